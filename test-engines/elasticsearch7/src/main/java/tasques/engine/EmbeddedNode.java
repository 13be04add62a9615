package tasques.engine;

import java.util.Collection;

import org.elasticsearch.cluster.service.ClusterService;
import org.elasticsearch.env.Environment;
import org.elasticsearch.node.Node;
import org.elasticsearch.plugins.Plugin;

/**
 * An Elasticsearch 7.10 node whose plugins are classes on the JVM classpath (no plugin bundles on disk).
 *
 * <p>Uses the protected {@code Node(Environment, Collection<Class<? extends Plugin>>, boolean)} constructor,
 * which exists in Elasticsearch 7.x. Bootstrap checks, JarHell and the
 * SecurityManager all live in {@code org.elasticsearch.bootstrap.Bootstrap} and therefore never run here.
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
