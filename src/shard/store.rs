//! Where partials live: a directory every shard can write (a shared file
//! system, a mounted volume), or an S3-compatible object store
//! (`s3://bucket/prefix`, credentials and endpoint from the usual `AWS_*`
//! variables). Either way a file appears whole or not at all: a file is
//! written beside its name and renamed into place, an object is one PUT;
//! so a shard re-run after a failure replaces its earlier partial
//! atomically.

use object_store::{path::Path as ObjectPath, ObjectStore, PutPayload};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub enum Store {
    Dir(PathBuf),
    Object {
        url: String,
        store: Arc<dyn ObjectStore>,
        prefix: ObjectPath,
        runtime: tokio::runtime::Runtime,
    },
}

impl Store {
    /// A directory, or `s3://bucket[/prefix]`.
    pub fn open(location: &str) -> Result<Store, String> {
        let Some(rest) = location.strip_prefix("s3://") else {
            if let Some((scheme, _)) = location.split_once("://") {
                return Err(format!(
                    "{location}: partials go to a directory or an s3:// URL, not {scheme}://"
                ));
            }
            return Ok(Store::Dir(PathBuf::from(location)));
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(format!("{location}: expected s3://BUCKET[/PREFIX]"));
        }
        let store = object_store::aws::AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .build()
            .map_err(|e| format!("{location}: {e}"))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("{location}: starting the object-store client: {e}"))?;
        Ok(Store::Object {
            url: location.trim_end_matches('/').to_string(),
            store: Arc::new(store),
            prefix: ObjectPath::from(prefix.trim_matches('/')),
            runtime,
        })
    }

    /// Where a file of this store is, for messages.
    pub fn describe(&self, name: &str) -> String {
        match self {
            Store::Dir(dir) => dir.join(name).display().to_string(),
            Store::Object { url, .. } => format!("{url}/{name}"),
        }
    }

    fn object(prefix: &ObjectPath, name: &str) -> ObjectPath {
        prefix.child(name)
    }

    /// Writes `bytes` as `name`, whole or not at all; returns where.
    pub fn put(&self, name: &str, bytes: &[u8]) -> Result<String, String> {
        let fail = |e: &dyn std::fmt::Display| format!("writing {}: {e}", self.describe(name));
        match self {
            Store::Dir(dir) => write_atomic(dir, name, bytes).map_err(|e| fail(&e))?,
            Store::Object {
                store,
                prefix,
                runtime,
                ..
            } => {
                let payload = PutPayload::from(bytes.to_vec());
                runtime
                    .block_on(store.put(&Self::object(prefix, name), payload))
                    .map_err(|e| fail(&e))?;
            }
        }
        Ok(self.describe(name))
    }

    /// The bytes of `name`, at most `limit` of them.
    pub fn get(&self, name: &str, limit: u64) -> Result<Vec<u8>, String> {
        let fail = |e: &dyn std::fmt::Display| format!("{}: {e}", self.describe(name));
        match self {
            Store::Dir(dir) => {
                crate::files::read_limited(&dir.join(name), limit).map_err(|e| fail(&e))
            }
            Store::Object {
                store,
                prefix,
                runtime,
                ..
            } => runtime.block_on(async {
                let got = store
                    .get(&Self::object(prefix, name))
                    .await
                    .map_err(|e| fail(&e))?;
                if got.meta.size > limit {
                    return Err(fail(&format!("larger than the {limit}-byte limit")));
                }
                Ok(got.bytes().await.map_err(|e| fail(&e))?.to_vec())
            }),
        }
    }

    /// Names of every file here, sorted.
    pub fn names(&self) -> Result<Vec<String>, String> {
        let mut names = match self {
            Store::Dir(dir) => std::fs::read_dir(dir)
                .map_err(|e| format!("reading partials {}: {e}", dir.display()))?
                .filter_map(|e| e.ok())
                .filter(|e| e.path().is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect::<Vec<_>>(),
            Store::Object {
                url,
                store,
                prefix,
                runtime,
            } => {
                let listed = runtime
                    .block_on(store.list_with_delimiter(Some(prefix)))
                    .map_err(|e| format!("listing {url}: {e}"))?;
                listed
                    .objects
                    .iter()
                    .filter_map(|o| o.location.filename().map(str::to_string))
                    .collect()
            }
        };
        names.sort();
        Ok(names)
    }

    /// The manifests here (`*.manifest.json`), by name.
    pub fn manifests(&self) -> Result<Vec<String>, String> {
        Ok(self
            .names()?
            .into_iter()
            .filter(|n| n.ends_with(".manifest.json") && !n.starts_with('.'))
            .collect())
    }

    /// Removes this shard's files (`stem.*.parquet`) that its manifest no
    /// longer names: an earlier attempt's data. Best effort: a file left
    /// behind is never read.
    pub fn remove_stale(&self, stem: &str, keep: &[String]) {
        let Ok(names) = self.names() else {
            return;
        };
        let stale = names.into_iter().filter(|n| {
            n.starts_with(&format!("{stem}.")) && n.ends_with(".parquet") && !keep.contains(n)
        });
        for name in stale {
            match self {
                Store::Dir(dir) => {
                    let _ = std::fs::remove_file(dir.join(&name));
                }
                Store::Object {
                    store,
                    prefix,
                    runtime,
                    ..
                } => {
                    let _ = runtime.block_on(store.delete(&Self::object(prefix, &name)));
                }
            }
        }
    }
}

/// Writes `bytes` to `dir/name` through a temporary file and a rename.
fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, dir.join(name))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
