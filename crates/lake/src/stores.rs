//! Object stores for every process that reads the `cloudtrail` table: the client, the Ballista
//! scheduler (which lists the objects again) and the executors (which read them).
//!
//! A plan names its objects by URL only, so a process must resolve `s3://BUCKET` the first time
//! it meets one; DataFusion's default registry knows only the stores registered in advance,
//! which an executor cannot know. [`ObjectStores`] opens an S3 store per bucket on first use,
//! with the AWS CLI's credential chain as the embedded reader has it (resolved on the first
//! request) and the rest from the `AWS_*` environment (region, `AWS_ENDPOINT` and
//! `AWS_ALLOW_HTTP=true` for S3-compatible servers).

use std::sync::Arc;

use datafusion::error::{DataFusionError, Result};
use datafusion::execution::object_store::{DefaultObjectStoreRegistry, ObjectStoreRegistry};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use url::Url;

/// DataFusion's registry (local files, stores registered by hand) plus S3 buckets opened on
/// first use from the `AWS_*` environment.
#[derive(Debug, Default)]
pub struct ObjectStores {
    known: DefaultObjectStoreRegistry,
}

impl ObjectStoreRegistry for ObjectStores {
    fn register_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        self.known.register_store(url, store)
    }

    fn deregister_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        self.known.deregister_store(url)
    }

    fn get_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        match self.known.get_store(url) {
            Ok(store) => return Ok(store),
            Err(unknown) if url.scheme() != "s3" => return Err(unknown),
            Err(_) => {}
        }
        let bucket = url
            .host_str()
            .filter(|b| !b.is_empty())
            .ok_or_else(|| DataFusionError::Configuration(format!("no bucket in {url}")))?;
        let store: Arc<dyn ObjectStore> = Arc::new(
            AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .with_credentials(Arc::new(
                    trailhound_source::aws_credentials::LazyChain::default(),
                ))
                .build()?,
        );
        // Two tasks may open the same bucket at once; either store serves.
        self.known.register_store(url, store.clone());
        Ok(store)
    }
}

/// A runtime with [`ObjectStores`] (shared by every session built on it) and, when given, a
/// folder for spill files.
pub fn runtime(stores: Arc<ObjectStores>, temp_dir: Option<&str>) -> Result<Arc<RuntimeEnv>> {
    let builder = RuntimeEnvBuilder::new().with_object_store_registry(stores);
    match temp_dir {
        Some(dir) => builder.with_temp_file_path(dir).build_arc(),
        None => builder.build_arc(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_a_bucket_on_first_use_and_keeps_it() {
        let stores = ObjectStores::default();
        let url = Url::parse("s3://trail/AWSLogs/").unwrap();
        let first = stores.get_store(&url).unwrap();
        let again = stores
            .get_store(&Url::parse("s3://trail/other").unwrap())
            .unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        assert!(
            stores
                .get_store(&Url::parse("file:///tmp").unwrap())
                .is_ok()
        );
        let unknown = stores
            .get_store(&Url::parse("gs://bucket/x").unwrap())
            .unwrap_err();
        assert!(unknown.to_string().contains("No suitable object store"));
    }
}
