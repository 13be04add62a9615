package tasques.engine;

import java.util.Collection;
import java.util.List;
import java.util.stream.Collectors;

import org.opensearch.Version;
import org.opensearch.cluster.service.ClusterService;
import org.opensearch.env.Environment;
import org.opensearch.node.Node;
import org.opensearch.plugins.Plugin;
import org.opensearch.plugins.PluginInfo;

/**
 * An OpenSearch 3 node whose plugins are classes on the JVM classpath (no plugin bundles on disk).
 *
 * <p>Since OpenSearch 3.1 the protected constructor takes {@code PluginInfo} descriptors instead of classes;
 * each class is described as a classpath plugin of the running version. Bootstrap checks, JarHell and the
 * agent that replaced the SecurityManager in 3.0 are all installed by {@code org.opensearch.bootstrap.Bootstrap},
 * which never runs here.
 */
final class EmbeddedNode extends Node {

    EmbeddedNode(Environment env, Collection<Class<? extends Plugin>> classpathPlugins) {
        super(env, describe(classpathPlugins), true);
    }

    private static List<PluginInfo> describe(Collection<Class<? extends Plugin>> classes) {
        return classes.stream()
            .map(cls -> new PluginInfo(cls.getName(), "classpath plugin", "NA", Version.CURRENT,
                System.getProperty("java.specification.version"), cls.getName(), List.of(), false))
            .collect(Collectors.toList());
    }

    /**
     * The default stores node and cluster ids in static log4j pattern-converter holders; that is only for
     * log patterns that we do not use.
     */
    @Override
    protected void configureNodeAndClusterIdStateListener(ClusterService clusterService) {
        // intentionally empty
    }
}
