// Starts a Neo4j Community DBMS (the Maven Central `org.neo4j:neo4j` artifact) with Bolt
// enabled, for machines that have Java but no Docker engine. kgtoolkit compiles this file
// once into its cache and runs it; see kgtoolkit/server/local.py.
//
// Configuration comes from the environment so that nothing secret is on the command line:
//   KGTOOLKIT_NEO4J_HOME      data, logs and run files; its conf/neo4j.conf (written by
//                             kgtoolkit: listeners on 127.0.0.1, memory, auth, LOAD CSV confined
//                             to one import folder or off, no LOAD CSV from local networks) is
//                             loaded as is. The embedded builder has no import root of its own
//                             (Neo4j's distribution sets one in its neo4j.conf): without that
//                             conf, LOAD CSV would read any absolute path on the machine.
//   KGTOOLKIT_NEO4J_PASSWORD  password set for the `neo4j` user at start
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;

public final class KgToolkitNeo4j {
    private KgToolkitNeo4j() {}

    private static String env(String name, String fallback) {
        String value = System.getenv(name);
        return value == null || value.isEmpty() ? fallback : value;
    }

    public static void main(String[] args) throws Exception {
        Path home = Path.of(env("KGTOOLKIT_NEO4J_HOME", "neo4j-home")).toAbsolutePath();
        String password = System.getenv("KGTOOLKIT_NEO4J_PASSWORD");
        if (password == null || password.length() < 8) {
            System.err.println("KGTOOLKIT_NEO4J_PASSWORD must hold a password of 8 characters or more");
            System.exit(2);
        }

        DatabaseManagementService service = new DatabaseManagementServiceBuilder(home)
                .loadPropertiesFromFile(home.resolve("conf").resolve("neo4j.conf"))
                .build();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("kgtoolkit-neo4j: shutting down");
            service.shutdown();
            stopped.countDown();
        }, "kgtoolkit-neo4j-shutdown"));
        // The password is set on every start, so that the environment stays the one source of truth.
        service.database("system").executeTransactionally(
                "ALTER USER neo4j SET PASSWORD $password CHANGE NOT REQUIRED",
                Map.of("password", password));
        System.out.println("kgtoolkit-neo4j: ready");
        stopped.await();
    }
}
