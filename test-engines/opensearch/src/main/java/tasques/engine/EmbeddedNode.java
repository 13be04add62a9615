package tasques.engine;

import java.util.Collection;

import org.opensearch.cluster.service.ClusterService;
import org.opensearch.env.Environment;
import org.opensearch.node.Node;
import org.opensearch.plugins.Plugin;

/**
 * An OpenSearch 2.19 node whose plugins are classes on the JVM classpath (no plugin bundles on disk).
 *
 * <p>Uses the protected {@code Node(Environment, Collection<Class<? extends Plugin>>, boolean)} constructor,
 * which exists up to OpenSearch 3.0 (3.1 switched to {@code PluginInfo}). Bootstrap checks, JarHell and the
 * SecurityManager all live in {@code org.opensearch.bootstrap.Bootstrap} and therefore never run here.
 */
final class EmbeddedNode extends Node {

    EmbeddedNode(Environment env, Collection<Class<? extends Plugin>> classpathPlugins) {
        super(env, classpathPlugins, true);
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
