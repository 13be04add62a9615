/** Builds the Elasticsearch/OpenSearch store from the server configuration. */
import { durationMs } from '../../config/load.js';
import type { ServerConfig } from '../../config/schema.js';
import { ElasticsearchStore } from './elasticsearch-store.js';

export function elasticsearchStoreFromConfig(config: ServerConfig): ElasticsearchStore {
  const es = config.store.elasticsearch;
  return new ElasticsearchStore({
    http: {
      addresses: config.elasticsearch.addresses,
      username: config.elasticsearch.user.name,
      password: config.elasticsearch.user.password,
      requestTimeoutMs: durationMs(es.request_timeout),
    },
    indexPrefix: es.index_prefix,
    autoSetup: es.auto_setup,
    archive: {
      ilmEnabled: config.lifecycle_setup.archived_tasks.enabled,
      rolloverMaxAgeMs: durationMs(es.archive_rollover_max_age),
      rolloverMaxDocs: es.archive_rollover_max_docs,
      ilmDeleteAfterMs: durationMs(config.recurring.tasks_archiver.delete_archived_older_than),
    },
  });
}
