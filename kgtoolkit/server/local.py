"""A local Neo4j 5.26 Community server for machines with Java 17 and no Docker engine.

`LocalNeo4j` resolves the server's jars from Maven Central into a cache directory once (Maven
copies `org.neo4j:neo4j` and `org.neo4j:neo4j-bolt` with their dependencies), compiles the small
launcher `KgToolkitNeo4j.java` beside them, and runs it with Neo4j's own JVM flags, a data
directory and Bolt on 127.0.0.1 (and, when `http_port` is given, the HTTP connector on 127.0.0.1 serving
Neo4j Browser from the `org.neo4j.client:neo4j-browser` jar on the classpath). The password is handed over in the child's environment, never on
its command line or in a log. `up` waits until a Cypher query answers; `status` reads the pid
file and asks the server its version; `down` stops that pid with SIGTERM (a clean shutdown),
then SIGKILL after a grace period.

Safety (`LocalNeo4j._conf`): every listener on 127.0.0.1 (HTTPS off; HTTP off unless `http_port` is
given, for the Browser, and then on 127.0.0.1 only, behind the same password); `LOAD CSV` from file
URLs off unless `file_import` names a folder, and then confined to it (Neo4j's embedded default
reads any absolute path on the machine: no import root is set outside its own distribution's
neo4j.conf); `LOAD CSV` from URLs whose host is on this machine or a private, link-local or
carrier-grade network refused (`internal.dbms.cypher_ip_blocklist`), so a query cannot reach the
host's other local services or a cloud metadata endpoint.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from kgtoolkit.errors import ServerError
from kgtoolkit.server.browser import MOUNT, post_connect_commands, write_browser_files

NEO4J_VERSION = "5.26.30"
DEFAULT_PORT = 7687
DEFAULT_HTTP_PORT = 7474  # what `kgtoolkit db up` uses for the Browser unless told otherwise
# Neo4j Browser, served by the server's HTTP connector from this jar's browser/ folder. Its own Maven
# version line: 5.24.0 is the newest published (checked 2026-12-01).
BROWSER_VERSION = "5.24.0"
# LOAD CSV may not fetch from these networks: this machine, private ranges, link-local (cloud metadata).
BLOCKED_NETWORKS = ("0.0.0.0/8", "127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16",
                    "100.64.0.0/10", "::1/128", "fc00::/7", "fe80::/10")
LAUNCHER = Path(__file__).with_name("KgToolkitNeo4j.java")
BROWSER_FILES = Path(__file__).with_name("KgToolkitBrowserFiles.java")  # serves browser.py's style and guide

# Neo4j's own JVM flags, as its neo4j.conf ships them (server.jvm.additional).
NEO4J_JVM_FLAGS = (
    "-XX:+UseG1GC",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:+AlwaysPreTouch",
    "-XX:+UnlockExperimentalVMOptions",
    "-XX:+TrustFinalNonStaticFields",
    "-XX:+DisableExplicitGC",
    "-Djdk.nio.maxCachedBufferSize=1024",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Djdk.tls.ephemeralDHKeySize=2048",
    "-Djdk.tls.rejectClientInitiatedRenegotiation=true",
    "-XX:FlightRecorderOptions=stackdepth=256",
    "-XX:+UnlockDiagnosticVMOptions",
    "-XX:+DebugNonSafepoints",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "-Dlog4j2.disable.jmx=true",
)

POM_TEMPLATE = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>kgtoolkit</groupId>
  <artifactId>neo4j-runtime</artifactId>
  <version>{version}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.neo4j</groupId><artifactId>neo4j</artifactId><version>{version}</version></dependency>
    <dependency><groupId>org.neo4j</groupId><artifactId>neo4j-bolt</artifactId><version>{version}</version></dependency>
    <dependency><groupId>org.neo4j.client</groupId><artifactId>neo4j-browser</artifactId><version>{browser}</version></dependency>
  </dependencies>
</project>
"""


def default_cache_dir() -> Path:
    if os.environ.get("KGTOOLKIT_CACHE"):
        return Path(os.environ["KGTOOLKIT_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kgtoolkit"


def default_home() -> Path:
    return Path(os.environ.get("KGTOOLKIT_NEO4J_HOME", Path(".kgtoolkit") / "neo4j"))


@dataclass(frozen=True)
class ServerInfo:
    pid: int
    port: int
    bolt_uri: str
    version: str
    home: str
    password_source: str  # "environment (NEO4J_PASSWORD)" or the path of the generated password file
    started_at: float
    http_port: int | None = None  # None: HTTP off, no Browser

    @property
    def browser_url(self) -> str | None:
        return browser_url(self.http_port) if self.http_port else None

    def rows(self) -> list[tuple[str, str]]:
        """What `kgtoolkit db up` and `db status` print, as (name, value) rows."""
        password = ("from NEO4J_PASSWORD" if self.password_source.startswith("environment") else
                    f'generated; use: export NEO4J_PASSWORD="$(cat {self.password_source})"')
        browser = (f"{self.browser_url}  (user neo4j, the password below)" if self.browser_url else
                   "off (HTTP disabled: `db up` without --no-browser serves it)")
        return [("version", f"Neo4j {self.version} Community"), ("bolt", self.bolt_uri), ("browser", browser),
                ("pid", str(self.pid)), ("home", self.home), ("password", password),
                ("use", f"--graph {self.bolt_uri}  (or export KGTOOLKIT_GRAPH={self.bolt_uri})")]


class LocalNeo4j:
    """One local server: its runtime (shared cache) and its home (data, logs, pid, conf)."""

    def __init__(
        self,
        home: Path | None = None,
        *,
        port: int | None = None,
        cache_dir: Path | None = None,
        version: str = NEO4J_VERSION,
        heap: str = "1g",
        pagecache: str = "256m",
        file_import: Path | None = None,
        http_port: int | None = None,
    ):
        """`file_import`: the one folder whose files `LOAD CSV` may read through file URLs; None: none.
        `http_port`: the HTTP connector on 127.0.0.1 at this port, serving Neo4j Browser; None: HTTP off."""
        self.home = (home or default_home()).resolve()
        self.http_port = int(http_port) if http_port else None
        self.file_import = Path(file_import).resolve() if file_import is not None else None
        self.port = int(port or os.environ.get("KGTOOLKIT_NEO4J_PORT", DEFAULT_PORT))
        self.cache_dir = (cache_dir or default_cache_dir()).resolve()
        self.version = version
        self.heap = heap
        self.pagecache = pagecache

    # --- files ------------------------------------------------------------------------------
    @property
    def runtime_dir(self) -> Path:
        return self.cache_dir / f"neo4j-{self.version}"

    @property
    def pid_file(self) -> Path:
        return self.home / "run" / "kgtoolkit-neo4j.json"

    @property
    def password_file(self) -> Path:
        return self.home / "password"

    @property
    def log_file(self) -> Path:
        return self.home / "logs" / "kgtoolkit-neo4j.out"

    # --- resolution -------------------------------------------------------------------------
    def resolve(self) -> Path:
        """Jars and the compiled launcher in the cache, fetched by Maven on first use."""
        runtime = self.runtime_dir
        done = runtime / ".complete"
        if self._resolved(runtime):
            return runtime
        java, javac, mvn = _require_tools()
        runtime.mkdir(parents=True, exist_ok=True)
        with _file_lock(runtime / ".lock"):
            if self._resolved(runtime):
                return runtime
            (runtime / "pom.xml").write_text(POM_TEMPLATE.format(version=self.version, browser=BROWSER_VERSION))
            started = time.monotonic()
            result = subprocess.run(
                [mvn, "-B", "-q", "-f", str(runtime / "pom.xml"), "dependency:copy-dependencies",
                 f"-DoutputDirectory={runtime / 'lib'}"],
                capture_output=True, text=True,
            )
            if result.returncode != 0:
                raise ServerError(
                    f"Maven could not resolve org.neo4j:neo4j:{self.version} (with org.neo4j.client:neo4j-browser:"
                    f"{BROWSER_VERSION}) into {runtime}:\n"
                    + _tail(result.stdout + result.stderr)
                )
            (runtime / "classes").mkdir(exist_ok=True)
            result = subprocess.run(
                [javac, "-d", str(runtime / "classes"), "-cp", str(runtime / "lib" / "*"), str(LAUNCHER),
                 str(BROWSER_FILES)],
                capture_output=True, text=True,
            )
            if result.returncode != 0:
                raise ServerError(f"javac could not compile {LAUNCHER} and {BROWSER_FILES.name}:\n{_tail(result.stderr)}")
            jars = list((runtime / "lib").glob("*.jar"))
            done.write_text(json.dumps({
                "version": self.version, "browser": BROWSER_VERSION, "jars": len(jars),
                "bytes": sum(j.stat().st_size for j in jars),
                "resolve_seconds": round(time.monotonic() - started, 1),
            }))
        return runtime

    @staticmethod
    def _resolved(runtime: Path) -> bool:
        """Resolved, compiled, and with the Browser (a cache from before the Browser lacks its jar and class)."""
        return ((runtime / ".complete").exists() and (runtime / "classes" / "KgToolkitNeo4j.class").exists()
                and (runtime / "classes" / "kgtoolkit" / "browser" / "KgToolkitBrowserFiles.class").exists()
                and (runtime / "lib" / f"neo4j-browser-{BROWSER_VERSION}.jar").exists())

    # --- lifecycle --------------------------------------------------------------------------
    def up(self, timeout: float = 180.0) -> ServerInfo:
        running = self.running_pid()
        if running:
            return self.status()
        java = _require_java()
        runtime = self.resolve()
        password, source = self._password()
        if _port_in_use(self.port):
            raise ServerError(
                f"port {self.port} on 127.0.0.1 is taken by another program: pass --port "
                "(or set KGTOOLKIT_NEO4J_PORT) to use another one"
            )
        if self.http_port and (self.http_port == self.port or _port_in_use(self.http_port)):
            raise ServerError(
                f"HTTP port {self.http_port} on 127.0.0.1 (for Neo4j Browser) is taken: pass --http-port (or set "
                "KGTOOLKIT_NEO4J_HTTP_PORT) to use another one, or --no-browser to leave HTTP off"
            )
        for sub in ("conf", "data", "logs", "run", "import"):
            (self.home / sub).mkdir(parents=True, exist_ok=True)
        if self.file_import is not None and not self.file_import.is_dir():
            raise ServerError(f"--allow-file-import {self.file_import}: not a folder; create it, or leave the option "
                              "out to keep LOAD CSV away from files")
        if self.http_port:
            write_browser_files(self.home / "browser")
        (self.home / "conf" / "neo4j.conf").write_text(self._conf())
        env = {k: v for k, v in os.environ.items() if k != "NEO4J_PASSWORD"}
        env.update(KGTOOLKIT_NEO4J_HOME=str(self.home), KGTOOLKIT_NEO4J_PASSWORD=password)
        command = [
            java, f"-Xms{self.heap}", f"-Xmx{self.heap}", *NEO4J_JVM_FLAGS,
            "-cp", f"{runtime / 'lib' / '*'}{os.pathsep}{runtime / 'classes'}", "KgToolkitNeo4j",
        ]
        with open(self.log_file, "ab") as log:
            process = subprocess.Popen(
                command, cwd=self.home, env=env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )
        started = time.time()
        record = {"pid": process.pid, "port": self.port, "version": self.version,
                  "started_at": started, "password_source": source, "http_port": self.http_port}
        self.pid_file.write_text(json.dumps(record))
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                self.pid_file.unlink(missing_ok=True)
                raise ServerError(
                    f"Neo4j exited with status {process.returncode} while starting; its log "
                    f"{self.log_file} ends with:\n{_tail(self.log_file.read_text(errors='replace'))}"
                )
            version = _server_version(self.bolt_uri, password)
            if version and (not self.http_port or _http_answers(self.http_port)):
                break
            if time.monotonic() > deadline:
                self.down()
                where = self.bolt_uri + (f" and {browser_url(self.http_port)}" if self.http_port else "")
                raise ServerError(f"Neo4j did not answer on {where} within {timeout:.0f} s; see {self.log_file}")
            time.sleep(0.5)
        return ServerInfo(process.pid, self.port, self.bolt_uri, version, str(self.home), source, started,
                          self.http_port)

    def status(self) -> ServerInfo | None:
        record = self._record()
        if not record or not _alive(record["pid"]):
            return None
        password = os.environ.get("NEO4J_PASSWORD") or (
            self.password_file.read_text().strip() if self.password_file.exists() else ""
        )
        version = _server_version(f"bolt://127.0.0.1:{record['port']}", password) or "not answering"
        return ServerInfo(record["pid"], record["port"], f"bolt://127.0.0.1:{record['port']}", version,
                          str(self.home), record["password_source"], record["started_at"], record.get("http_port"))

    def down(self, grace: float = 60.0) -> bool:
        """Stop the recorded server; True if one was running."""
        record = self._record()
        if not record:
            return False
        pid = record["pid"]
        stopped = False
        if _alive(pid):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + grace
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
            stopped = True
        self.pid_file.unlink(missing_ok=True)
        return stopped

    def running_pid(self) -> int | None:
        record = self._record()
        return record["pid"] if record and _alive(record["pid"]) else None

    @property
    def bolt_uri(self) -> str:
        return f"bolt://127.0.0.1:{self.port}"

    # --- internals --------------------------------------------------------------------------
    def _record(self) -> dict | None:
        try:
            return json.loads(self.pid_file.read_text())
        except (OSError, ValueError):
            return None

    def _password(self) -> tuple[str, str]:
        password = os.environ.get("NEO4J_PASSWORD")
        if password:
            if len(password) < 8:
                raise ServerError("NEO4J_PASSWORD must be at least 8 characters long (a Neo4j rule)")
            return password, "environment (NEO4J_PASSWORD)"
        if not self.password_file.exists():
            self.home.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(18))
        return self.password_file.read_text().strip(), str(self.password_file)

    def _conf(self) -> str:
        import_root = self.file_import or self.home / "import"  # an empty folder when file loading is off
        return "\n".join([
            "# Written by kgtoolkit (kgtoolkit/server/local.py) at each `db up`.",
            "server.default_listen_address=127.0.0.1",
            "server.bolt.enabled=true",
            f"server.bolt.listen_address=127.0.0.1:{self.port}",
            f"server.bolt.advertised_address=127.0.0.1:{self.port}",
            *self._http_conf(),
            "server.https.enabled=false",
            "dbms.security.auth_enabled=true",
            f"dbms.security.allow_csv_import_from_file_urls={'true' if self.file_import else 'false'}",
            f"server.directories.import={import_root}",
            f"internal.dbms.cypher_ip_blocklist={','.join(BLOCKED_NETWORKS)}",
            f"server.memory.pagecache.size={self.pagecache}",
            "db.tx_log.rotation.retention_policy=2 files",
            "",
        ])

    def _http_conf(self) -> list[str]:
        """HTTP on 127.0.0.1 serving the Browser and kgtoolkit's style and guide for it (browser.py), and
        nothing else: no HTTP Cypher endpoints (the Browser talks Bolt over a WebSocket, with the same
        password); the Browser fetches guides and styles from this machine only, applies kgtoolkit's
        and opens its guide on logging in, and is told to send no product analytics. Or HTTP off."""
        if not self.http_port:
            return ["server.http.enabled=false"]
        return [
            "server.http.enabled=true",
            f"server.http.listen_address=127.0.0.1:{self.http_port}",
            f"server.http.advertised_address=127.0.0.1:{self.http_port}",
            "server.http_enabled_modules=BROWSER,UNMANAGED_EXTENSIONS",
            f"server.unmanaged_extension_classes=kgtoolkit.browser={MOUNT}",
            f"dbms.security.http_auth_allowlist=/,/browser.*,{MOUNT}/.*",  # the style and guide: no secrets
            "browser.remote_content_hostname_whitelist=127.0.0.1",
            f"browser.post_connect_cmd={post_connect_commands(self.http_port)}",
            "client.allow_telemetry=false",
        ]


def _require_java() -> str:
    java = shutil.which("java")
    if not java:
        raise ServerError(
            "Java is not installed. Neo4j 5.26 needs Java 17 or 21: install it (e.g. "
            "`apt-get install openjdk-17-jdk-headless maven`), or run Neo4j with Docker: "
            "`docker compose up -d`."
        )
    output = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    match = re.search(r'version "(\d+)', output)
    major = int(match.group(1)) if match else 0
    if major not in (17, 21):
        raise ServerError(f"{java} is Java {major or '?'}; Neo4j 5.26 runs on Java 17 or 21: set JAVA_HOME/PATH to one")
    return java


def _require_tools() -> tuple[str, str, str]:
    java = _require_java()
    javac = shutil.which("javac")
    mvn = shutil.which("mvn")
    missing = [name for name, path in (("javac (a JDK, not only a JRE)", javac), ("mvn (Maven)", mvn)) if not path]
    if missing:
        raise ServerError(
            f"resolving Neo4j from Maven Central needs {' and '.join(missing)}: install them "
            "(e.g. `apt-get install openjdk-17-jdk-headless maven`), or use `docker compose up -d`."
        )
    return java, javac, mvn  # type: ignore[return-value]


def _server_version(uri: str, password: str) -> str | None:
    import neo4j
    from neo4j.exceptions import DriverError, Neo4jError

    try:
        with neo4j.GraphDatabase.driver(uri, auth=("neo4j", password), connection_timeout=2) as driver:
            with driver.session(database="system") as session:  # auto-commit: no driver retries
                return session.run("CALL dbms.components() YIELD versions RETURN versions[0] AS v").single()["v"]
    except (DriverError, Neo4jError, OSError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child counts as gone; so does a recycled pid that is not our launcher
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        status = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return True
    return status != "Z" and b"KgToolkitNeo4j" in cmdline


def browser_url(http_port: int) -> str:
    return f"http://127.0.0.1:{http_port}/browser/"


def _http_answers(port: int) -> bool:
    """The HTTP connector answers its discovery document."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def _file_lock(path: Path):
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _tail(text: str, lines: int = 20) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])

