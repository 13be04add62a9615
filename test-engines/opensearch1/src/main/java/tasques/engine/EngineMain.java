package tasques.engine;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.opensearch.action.admin.cluster.health.ClusterHealthResponse;
import org.opensearch.cluster.health.ClusterHealthStatus;
import org.opensearch.common.Priority;
import org.opensearch.common.logging.LogConfigurator;
import org.opensearch.common.settings.Settings;
import org.opensearch.common.unit.TimeValue;
import org.opensearch.common.transport.TransportAddress;
import org.opensearch.env.Environment;
import org.opensearch.http.HttpServerTransport;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.plugins.Plugin;

/**
 * Starts one OpenSearch 1.3 node on 127.0.0.1 for tests: alone (single-node discovery), or as one member of a
 * cluster on loopback (every member started with the same {@code --seed-hosts} and {@code --initial-managers}).
 *
 * <pre>
 *   java -Xms512m -Xmx512m -cp 'target/classes:target/lib/*' tasques.engine.EngineMain --port 0 --home /tmp/x
 * </pre>
 *
 * Options: {@code --port <n|0>} (HTTP port, 0 = ephemeral, default 0), {@code --home <dir>} (required; created
 * if missing), {@code --data <dir>} (default {@code <home>/data}), {@code --no-stdin-watch} (do not exit on stdin EOF),
 * {@code --delete-home-on-exit} (remove the home directory after the node has closed, even if the parent was killed),
 * and for a cluster member {@code --node-name <name>}, {@code --transport-port <n>}, {@code --seed-hosts <host:port,...>},
 * {@code --initial-managers <name,...>} (all members' names; without it the node runs single-node discovery).
 *
 * <p>Prints exactly one line on stdout, {@code ENGINE_READY port=<p>}, once the cluster is at least yellow and
 * HTTP is bound. All logging goes to stderr. Exits (closing the node) on SIGTERM/SIGINT or when stdin reaches
 * EOF, so an engine whose parent died does not linger.
 */
public final class EngineMain {

    private static final String CLUSTER_NAME = "tasques-test-os1";
    private static final String DEFAULT_NODE_NAME = "tasques-0";
    /** The setting naming the first cluster-manager-eligible nodes of a new cluster (its 1.x name). */
    private static final String INITIAL_MANAGERS_SETTING = "cluster.initial_master_nodes";

    private static volatile Node node;
    private static volatile Path homeToDelete;

    private EngineMain() {}

    public static void main(String[] args) throws Exception {
        long t0 = System.nanoTime();
        // Same defaults as OpenSearch's own jvm.options, for properties that may still be set this late.
        setIfAbsent("log4j.shutdownHookEnabled", "false"); // our hook closes the node, log4j must outlive it
        setIfAbsent("log4j2.disable.jmx", "true");
        setIfAbsent("io.netty.noUnsafe", "true");
        setIfAbsent("io.netty.noKeySetOptimization", "true");
        setIfAbsent("io.netty.recycler.maxCapacityPerThread", "0");
        setIfAbsent("opensearch.set.netty.runtime.available.processors", "false");
        setIfAbsent("java.awt.headless", "true");

        // stdout carries only the ready line; everything else (including stray prints) goes to stderr.
        PrintStream out = new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), true, StandardCharsets.UTF_8);
        System.setOut(System.err);

        int port = 0;
        Path home = null;
        Path data = null;
        boolean stdinWatch = true;
        boolean deleteHome = false;
        String nodeName = DEFAULT_NODE_NAME;
        int transportPort = 0;
        List<String> seedHosts = List.of();
        List<String> initialManagers = List.of();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--port":
                    port = Integer.parseInt(need(args, ++i, "--port"));
                    break;
                case "--home":
                    home = Paths.get(need(args, ++i, "--home"));
                    break;
                case "--data":
                    data = Paths.get(need(args, ++i, "--data"));
                    break;
                case "--no-stdin-watch":
                    stdinWatch = false;
                    break;
                case "--delete-home-on-exit":
                    deleteHome = true;
                    break;
                case "--node-name":
                    nodeName = need(args, ++i, "--node-name");
                    break;
                case "--transport-port":
                    transportPort = Integer.parseInt(need(args, ++i, "--transport-port"));
                    break;
                case "--seed-hosts":
                    seedHosts = List.of(need(args, ++i, "--seed-hosts").split(","));
                    break;
                case "--initial-managers":
                    initialManagers = List.of(need(args, ++i, "--initial-managers").split(","));
                    break;
                default:
                    usage("unknown argument: " + args[i]);
            }
        }
        if (home == null) usage("--home is required");
        if (port < 0 || port > 65535) usage("bad --port: " + port);
        home = home.toAbsolutePath().normalize();
        data = data == null ? home.resolve("data") : data.toAbsolutePath().normalize();
        Path config = home.resolve("config");
        Path logs = home.resolve("logs");
        for (Path p : List.of(config, logs, data, home.resolve("modules"), home.resolve("plugins"))) {
            Files.createDirectories(p);
        }
        if (deleteHome) homeToDelete = home;

        // Exit on parent death (stdin EOF) from the very start, even while the node is still starting.
        if (stdinWatch) {
            Thread watcher = new Thread(EngineMain::watchStdin, "engine-stdin-watch");
            watcher.setDaemon(true);
            watcher.start();
        }
        Runtime.getRuntime().addShutdownHook(new Thread(EngineMain::closeNode, "engine-shutdown"));

        Path log4jConfig = config.resolve("log4j2.properties");
        if (!Files.exists(log4jConfig)) {
            Files.writeString(log4jConfig, String.join("\n",
                "status = error",
                "appender.console.type = Console",
                "appender.console.name = console",
                "appender.console.target = SYSTEM_ERR",
                "appender.console.layout.type = PatternLayout",
                "appender.console.layout.pattern = [%d{ISO8601}][%-5p][%-25c{1.}] %m%n",
                "rootLogger.level = warn",
                "rootLogger.appenderRef.console.ref = console",
                // Deprecation warnings reach clients as Warning headers; no need to log them too.
                "logger.deprecation.name = org.opensearch.deprecation",
                "logger.deprecation.level = error",
                // "auto_import_dangling_indices is disabled" on every start
                "logger.dangling.name = org.opensearch.gateway.DanglingIndicesState",
                "logger.dangling.level = error",
                ""));
        }

        boolean clustered = !initialManagers.isEmpty();
        Settings.Builder builder = Settings.builder()
            .put("path.home", home.toString())
            .put("path.data", data.toString())
            .put("path.logs", logs.toString())
            .put("cluster.name", CLUSTER_NAME)
            .put("node.name", nodeName)
            .put("network.host", "127.0.0.1")
            .put("http.port", Integer.toString(port))
            .put("transport.port", Integer.toString(transportPort))
            .put("node.portsfile", true)
            .put("cluster.max_shards_per_node", 10000)
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            .put("indices.breaker.total.use_real_memory", false)
            .put("script.disable_max_compilations_rate", true)
            .put("node.store.allow_mmap", false)
            .put("action.auto_create_index", true);
        if (clustered) {
            builder.putList("discovery.seed_hosts", seedHosts).putList(INITIAL_MANAGERS_SETTING, initialManagers);
        } else {
            builder.put("discovery.type", "single-node");
        }
        Settings settings = builder.build();
        String finalNodeName = nodeName;

        Environment env = InternalSettingsPreparer.prepareEnvironment(settings, Map.of(), config, () -> finalNodeName);
        LogConfigurator.registerErrorListener();
        LogConfigurator.configure(env);

        List<Class<? extends Plugin>> plugins = new ArrayList<>();
        plugins.add(org.opensearch.transport.Netty4Plugin.class);
        plugins.add(org.opensearch.index.reindex.ReindexPlugin.class);
        plugins.add(org.opensearch.index.mapper.MapperExtrasPlugin.class);
        plugins.add(org.opensearch.join.ParentJoinPlugin.class);
        plugins.add(org.opensearch.script.mustache.MustachePlugin.class);

        Node n = new EmbeddedNode(env, plugins);
        node = n;
        n.start();

        ClusterHealthResponse health = n.client().admin().cluster().prepareHealth()
            .setWaitForYellowStatus()
            .setWaitForEvents(Priority.LANGUID)
            .setTimeout(TimeValue.timeValueSeconds(60))
            .get();
        if (health.isTimedOut() || health.getStatus() == ClusterHealthStatus.RED) {
            throw new IllegalStateException("cluster did not reach yellow: " + health.getStatus());
        }
        // (OpenSearch 1.x has no cluster.default_number_of_replicas: the store's templates set the replicas.)
        TransportAddress http = n.injector().getInstance(HttpServerTransport.class).boundAddress().publishAddress();
        int boundPort = http.getPort();

        System.err.printf("[engine] OpenSearch %s ready on http://127.0.0.1:%d in %d ms%n",
            org.opensearch.Version.CURRENT, boundPort, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0));
        out.println("ENGINE_READY port=" + boundPort);
        out.flush();

        new CountDownLatch(1).await(); // OpenSearch's threads are daemons: keep the JVM alive
    }

    private static void watchStdin() {
        InputStream in = System.in;
        byte[] buf = new byte[256];
        try {
            while (in.read(buf) >= 0) {
                // discard
            }
        } catch (IOException e) {
            // treat as EOF
        }
        System.err.println("[engine] stdin closed: shutting down");
        System.exit(0);
    }

    private static void closeNode() {
        Node n = node;
        if (n != null) {
            try {
                n.close();
                n.awaitClose(10, TimeUnit.SECONDS);
            } catch (Exception e) {
                System.err.println("[engine] error while closing node: " + e);
            }
        }
        Path h = homeToDelete;
        if (h != null) deleteRecursively(h);
    }

    private static void deleteRecursively(Path root) {
        try (var paths = Files.walk(root)) {
            paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException e) {
                    // best effort
                }
            });
        } catch (IOException e) {
            // best effort
        }
    }

    private static void setIfAbsent(String key, String value) {
        if (System.getProperty(key) == null) System.setProperty(key, value);
    }

    private static String need(String[] args, int i, String flag) {
        if (i >= args.length) usage(flag + " needs a value");
        return args[i];
    }

    private static void usage(String msg) {
        System.err.println("EngineMain: " + msg);
        System.err.println("usage: EngineMain --home <dir> [--port <n|0>] [--data <dir>] [--no-stdin-watch] [--delete-home-on-exit]"
            + " [--node-name <name> --transport-port <n> --seed-hosts <host:port,...> --initial-managers <name,...>]");
        System.exit(2);
    }
}
