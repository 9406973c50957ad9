//! Partial fine-tuning: which parameters train.
//!
//! The two ways of training of the transfer-learning literature, plus freezing the embeddings:
//! - **feature extraction** ([`TrainLayers::Head`]): the encoder is frozen and only the new
//!   head (pooler, pre-classifier, classifier) trains;
//! - **fine-tuning** the last few layers ([`TrainLayers::Last`]) or all of them
//!   ([`TrainLayers::All`], the default).
//!
//! Every architecture names its freezable parts as [`EncoderParts`] (the embeddings and each
//! encoder layer, bottom to top); [`Freezing::apply`] freezes them with burn's
//! [`Module::freeze_group`]. A frozen parameter gets no gradient, so the optimizer keeps no
//! state for it, and burn's autodiff records no graph for layers whose parameters and inputs
//! all lack gradients, so no backward pass runs through the frozen layers below the lowest
//! trainable one. Frozen layers also run as at inference (their dropout off), as Keras's
//! `trainable = False` has them: what they compute is a fixed function of the input. (PyTorch's
//! `requires_grad_(False)` alone keeps their dropout on; with dropout 0 the two are the same.)

use std::fmt;
use std::str::FromStr;

use burn::module::{Module, ModuleVisitor, Param, ParamGroup};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};

/// Which encoder layers train; the head always does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum TrainLayers {
    /// Every layer (full fine-tuning).
    #[default]
    All,
    /// None: the head alone (feature extraction); the embeddings are frozen too.
    Head,
    /// The last `N` encoder layers and the head; the layers below and the embeddings are
    /// frozen.
    Last(usize),
}

impl fmt::Display for TrainLayers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::All => f.write_str("all"),
            Self::Head => f.write_str("head"),
            Self::Last(n) => write!(f, "last:{n}"),
        }
    }
}

/// A text that is not a [`TrainLayers`] choice.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a train-layers choice: expected `all`, `head` or `last:N` with N a number of encoder layers (at least 1)"
)]
pub struct TrainLayersParseError(pub String);

impl FromStr for TrainLayers {
    type Err = TrainLayersParseError;

    /// `all`, `head` or `last:N` with `N` at least 1.
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let invalid = || TrainLayersParseError(s.to_string());
        match s.trim() {
            "all" => Ok(Self::All),
            "head" => Ok(Self::Head),
            other => {
                let n = other
                    .strip_prefix("last:")
                    .and_then(|n| n.trim().parse::<usize>().ok())
                    .ok_or_else(invalid)?;
                if n == 0 {
                    return Err(invalid());
                }
                Ok(Self::Last(n))
            }
        }
    }
}

impl TryFrom<String> for TrainLayers {
    type Error = TrainLayersParseError;

    fn try_from(s: String) -> std::result::Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<TrainLayers> for String {
    fn from(layers: TrainLayers) -> Self {
        layers.to_string()
    }
}

/// The parameters partial fine-tuning can freeze, bottom to top: the embeddings (with
/// ELECTRA's `embeddings_project`) and each encoder layer. Everything else is the head.
#[derive(Debug, Clone)]
pub struct EncoderParts {
    /// The embedding parameters.
    pub embeddings: ParamGroup,
    /// Each encoder layer's parameters, the first layer first.
    pub layers: Vec<ParamGroup>,
}

impl EncoderParts {
    /// The parts of an encoder with these embeddings and layers.
    pub fn new<E: Module, L: Module>(embeddings: &E, layers: &[L]) -> Self {
        Self {
            embeddings: ParamGroup::ids_from_module(embeddings.clone()),
            layers: layers
                .iter()
                .map(|layer| ParamGroup::ids_from_module(layer.clone()))
                .collect(),
        }
    }

    /// Adds `module`'s parameters to the embeddings.
    pub fn with_embeddings<E: Module>(mut self, module: &E) -> Self {
        self.embeddings = self
            .embeddings
            .fuse(&ParamGroup::ids_from_module(module.clone()));
        self
    }
}

/// What partial fine-tuning freezes (`TrainingConfig`'s `train_layers` and
/// `freeze_embeddings`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Freezing {
    /// Which encoder layers train.
    pub train_layers: TrainLayers,
    /// Freeze the embeddings (implied by [`TrainLayers::Head`] and [`TrainLayers::Last`]).
    pub freeze_embeddings: bool,
}

impl Freezing {
    /// Whether anything is frozen.
    pub fn freezes_anything(&self) -> bool {
        self.train_layers != TrainLayers::All || self.freeze_embeddings
    }

    /// How many of `layers` encoder layers are frozen, from the bottom.
    ///
    /// # Errors
    /// [`ModelError::TrainLayers`] when [`TrainLayers::Last`] asks for more layers than there are.
    pub fn frozen_layers(&self, layers: usize) -> Result<usize> {
        match self.train_layers {
            TrainLayers::All => Ok(0),
            TrainLayers::Head => Ok(layers),
            TrainLayers::Last(n) if n <= layers => Ok(layers - n),
            TrainLayers::Last(n) => Err(ModelError::TrainLayers {
                requested: n,
                layers,
            }),
        }
    }

    /// Freezes `model`'s parts as configured (burn's [`Module::freeze_group`]); a no-op for
    /// full fine-tuning.
    ///
    /// # Errors
    /// [`ModelError::TrainLayers`] when [`TrainLayers::Last`] asks for more layers than `parts`
    /// has.
    pub fn apply<M: Module>(&self, model: M, parts: EncoderParts) -> Result<M> {
        let frozen_layers = self.frozen_layers(parts.layers.len())?;
        if !self.freezes_anything() {
            return Ok(model);
        }
        // The embeddings sit below every layer: freezing any layer freezes them too.
        let group = parts
            .layers
            .iter()
            .take(frozen_layers)
            .fold(parts.embeddings, |group, layer| group.fuse(layer));
        Ok(model.freeze_group(group))
    }
}

/// How many float parameters (scalars) of `module` train, and how many it has in all (PEFT's
/// `print_trainable_parameters`).
pub fn trainable_parameters<M: Module>(module: &M) -> (usize, usize) {
    struct Count {
        trainable: usize,
        all: usize,
    }
    impl ModuleVisitor for Count {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let n = param.shape().num_elements();
            self.all += n;
            if param.is_require_grad() {
                self.trainable += n;
            }
        }
    }
    let mut count = Count {
        trainable: 0,
        all: 0,
    };
    module.visit(&mut count);
    (count.trainable, count.all)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn train_layers_parse_and_print_as_the_flag_does() {
        for (text, layers) in [
            ("all", TrainLayers::All),
            ("head", TrainLayers::Head),
            ("last:2", TrainLayers::Last(2)),
        ] {
            assert_eq!(text.parse::<TrainLayers>().unwrap(), layers);
            assert_eq!(layers.to_string(), text);
            let json = serde_json::to_string(&layers).unwrap();
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(serde_json::from_str::<TrainLayers>(&json).unwrap(), layers);
        }
        for bad in ["last:0", "last:", "last:x", "first:2", "", "Head"] {
            let err = bad.parse::<TrainLayers>().unwrap_err().to_string();
            assert!(err.contains("`all`, `head` or `last:N`"), "{bad}: {err}");
        }
        assert!(serde_json::from_str::<TrainLayers>("\"last:0\"").is_err());
    }

    #[test]
    fn frozen_layers_count_from_the_bottom_and_refuse_too_many() {
        let freezing = |train_layers| Freezing {
            train_layers,
            freeze_embeddings: false,
        };
        assert_eq!(freezing(TrainLayers::All).frozen_layers(6).unwrap(), 0);
        assert_eq!(freezing(TrainLayers::Head).frozen_layers(6).unwrap(), 6);
        assert_eq!(freezing(TrainLayers::Last(2)).frozen_layers(6).unwrap(), 4);
        assert_eq!(freezing(TrainLayers::Last(6)).frozen_layers(6).unwrap(), 0);
        let err = freezing(TrainLayers::Last(7)).frozen_layers(6).unwrap_err();
        assert_eq!(
            err.to_string(),
            "train layers `last:7` asks for 7 encoder layers but the model has 6; use last:1 to last:6, head or all"
        );
        assert!(!freezing(TrainLayers::All).freezes_anything());
        assert!(
            Freezing {
                train_layers: TrainLayers::All,
                freeze_embeddings: true
            }
            .freezes_anything()
        );
    }
}
