// Serves kgtoolkit's Neo4j Browser style and guide from the server's own HTTP connector, so that
// `:style` and `:guide` fetch them from 127.0.0.1 (the one host the Browser may fetch from). Mounted
// as a Neo4j unmanaged extension at /kgtoolkit (server.unmanaged_extension_classes, written by
// kgtoolkit/server/local.py), it answers GET /kgtoolkit/<name> for the fixed names below only, from
// the files `kgtoolkit db up` writes into KGTOOLKIT_NEO4J_HOME/browser/ (the style of graph_schema/
// and a guide built from graph_schema/QUERIES.md). They hold no data of the graph and no secret.
package kgtoolkit.browser;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import javax.ws.rs.GET;
import javax.ws.rs.PathParam;
import javax.ws.rs.core.Response;

@javax.ws.rs.Path("/")
public class KgToolkitBrowserFiles {
    private static final Map<String, String> FILES = Map.of(
            "guide.html", "text/html; charset=utf-8",
            "kgtoolkit.grass", "text/plain; charset=utf-8");

    @GET
    @javax.ws.rs.Path("{name}")
    public Response file(@PathParam("name") String name) {
        String type = FILES.get(name);
        String home = System.getenv("KGTOOLKIT_NEO4J_HOME");
        if (type == null || home == null) {
            return Response.status(Response.Status.NOT_FOUND).build();
        }
        try {
            byte[] body = Files.readAllBytes(Path.of(home, "browser", name));
            return Response.ok(body, type).header("Cache-Control", "no-store").build();
        } catch (IOException error) {
            return Response.status(Response.Status.NOT_FOUND).build();
        }
    }
}
