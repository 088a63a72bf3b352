//! The layer of a running primary ([`LayerStore`]): the reloader lays it over each file it
//! reads, the API replaces it, the status reports it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;
use ward_config::Config;

use super::{FILE_NAME, Keys, Layer, record_key};

/// The layer of a running primary: where it is kept, what it holds, the file it lies over.
pub struct LayerStore {
    dir: PathBuf,
    state: Mutex<LayerState>,
}

#[derive(Default)]
struct LayerState {
    layer: Layer,
    /// The config file as last read (without the layer).
    file: Option<Arc<Config>>,
    /// What of the layer the file shadows.
    shadowed: Vec<String>,
    /// Why the layer's file could not be read at start (it was set aside).
    set_aside: Option<String>,
    /// Why the file with the layer over it does not validate: the file serves alone (or
    /// the previous config goes on serving) and writes wait until a file that fits comes.
    invalid: Option<String>,
}

/// The layer as the status reports it.
#[derive(Clone, Debug, Serialize)]
pub struct LayerStatus {
    /// Where the API's writes go: `data_dir`.
    pub mode: &'static str,
    /// The layer's file.
    pub path: String,
    /// What the file defines (the API cannot change these).
    pub file: Keys,
    /// What the layer adds.
    pub api: Keys,
    /// Custom rules added to the file's policies, by policy.
    pub policy_rules: BTreeMap<String, usize>,
    /// Lists added to the file's policies, by policy.
    pub policy_lists: BTreeMap<String, Vec<String>>,
    /// The switches the API holds over the file's, if it holds them.
    pub switches: Option<super::Switches>,
    /// What of the layer the file shadows.
    pub shadowed: Vec<String>,
    /// Why the layer's file was set aside at start.
    pub set_aside: Option<String>,
    /// Why the file with the layer over it is not serving (writes are refused until it
    /// is).
    pub invalid: Option<String>,
}

impl LayerStore {
    /// The layer kept in `data_dir`, read now. A file that cannot be read is renamed to
    /// `config-layer.json.bad` and logged, and the layer starts empty: it never stops a
    /// start, and nothing is lost.
    pub fn open(data_dir: &Path) -> LayerStore {
        let mut state = LayerState::default();
        match Layer::load(data_dir) {
            Ok(layer) => state.layer = layer,
            Err(error) => {
                let path = data_dir.join(FILE_NAME);
                let bad = data_dir.join(format!("{FILE_NAME}.bad"));
                let moved = std::fs::rename(&path, &bad);
                tracing::error!(
                    %error,
                    moved_to = %bad.display(),
                    moved = moved.is_ok(),
                    "the API's config layer cannot be read; serving the config file alone"
                );
                state.set_aside = Some(format!("{error} (set aside as {})", bad.display()));
            }
        }
        LayerStore {
            dir: data_dir.to_owned(),
            state: Mutex::new(state),
        }
    }

    fn lock(&self) -> MutexGuard<'_, LayerState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `file` with the layer over it; remembers the file, and what it shadows.
    pub fn over(&self, file: Config) -> Config {
        let mut state = self.lock();
        let (config, shadowed) = state.layer.over(&file);
        for entry in &shadowed {
            if !state.shadowed.contains(entry) {
                tracing::warn!(entry = %entry, "the config file defines what the API added: the file's serves");
            }
        }
        state.shadowed = shadowed;
        state.file = Some(Arc::new(file));
        config
    }

    /// The layer's file.
    pub fn path(&self) -> PathBuf {
        self.dir.join(FILE_NAME)
    }

    /// Notes why the file with the layer over it is not serving (`None`: it is).
    pub fn set_invalid(&self, why: Option<String>) {
        self.lock().invalid = why;
    }

    /// Why the file with the layer over it is not serving, if it is not.
    pub fn invalid(&self) -> Option<String> {
        self.lock().invalid.clone()
    }

    /// The config file as last read.
    pub fn file(&self) -> Option<Arc<Config>> {
        self.lock().file.clone()
    }

    /// The layer now.
    pub fn layer(&self) -> Layer {
        self.lock().layer.clone()
    }

    /// Saves `layer` and makes it the one over the file; the previous one, to put back if
    /// the config it makes is refused.
    pub fn replace(&self, layer: Layer) -> std::io::Result<Layer> {
        layer.save(&self.dir)?;
        let mut state = self.lock();
        if let Some(file) = state.file.clone() {
            state.shadowed = layer.over(&file).1;
        }
        Ok(std::mem::replace(&mut state.layer, layer))
    }

    /// What the status says of the layer.
    pub fn status(&self) -> LayerStatus {
        let state = self.lock();
        let file = state.file.as_deref().map(Keys::of).unwrap_or_default();
        let l = &state.layer;
        LayerStatus {
            mode: "data_dir",
            path: self.path().display().to_string(),
            file,
            api: Keys {
                lists: l.lists.iter().map(|x| x.id.clone()).collect(),
                policies: l.policies.keys().cloned().collect(),
                clients: l.clients.iter().map(|c| c.key().to_string()).collect(),
                records: l.records.iter().map(record_key).collect(),
                upstreams: l.upstreams.keys().cloned().collect(),
                forward: l.forward.iter().flat_map(|f| f.zones.clone()).collect(),
            },
            policy_rules: l
                .policy_rules
                .iter()
                .map(|(p, r)| (p.clone(), r.len()))
                .collect(),
            policy_lists: l.policy_lists.clone(),
            switches: l.switches,
            shadowed: state.shadowed.clone(),
            set_aside: state.set_aside.clone(),
            invalid: state.invalid.clone(),
        }
    }
}
