//! A model whose forest file is the input, with meta.json re-signed with
//! its hash as a tamperer would: `DwellModel` either refuses it or gives a
//! model whose predictions are sane for any features.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lockerlab::forecast::features::FEATURE_COUNT;
use lockerlab::forecast::model::{sha256_hex, DwellModel, ModelMeta};
use std::path::Path;
use std::sync::OnceLock;

static META: OnceLock<ModelMeta> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let meta = META.get_or_init(|| {
        serde_json::from_str(include_str!("../../models/default/meta.json"))
            .expect("the shipped meta.json")
    });
    let mut meta = meta.clone();
    meta.forest_sha256 = sha256_hex(data);
    let Ok(model) = DwellModel::from_files(meta, data, Path::new("fuzz-model")) else {
        return;
    };
    for x in [
        [0.0; FEATURE_COUNT],
        [1.0; FEATURE_COUNT],
        [-1e300; FEATURE_COUNT],
        [f64::NAN; FEATURE_COUNT],
    ] {
        let p = model.predict_vector(&x);
        assert!(p.mean_hours.is_finite() && p.mean_hours >= 0.0, "{p:?}");
        assert!(p.cdf.iter().all(|c| (0.0..=1.0).contains(c)), "{p:?}");
        assert!(p.cdf.windows(2).all(|w| w[0] <= w[1]), "{p:?}");
    }
});
