//! Weight initialisation as HF's `BertPreTrainedModel._init_weights`: every Linear and Embedding
//! weight ~ N(0, initializer_range), biases zero, LayerNorm weight one and bias zero, and the
//! padding token's embedding row zero.

use burn::nn::{
    Embedding, EmbeddingConfig, Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig,
};
use burn::prelude::*;

/// A `Linear(d_input → d_output)` with HF's initialisation.
pub(crate) fn linear(d_input: usize, d_output: usize, std: f64, device: &Device) -> Linear {
    let mut linear = LinearConfig::new(d_input, d_output)
        .with_initializer(Initializer::Normal { mean: 0.0, std })
        .init(device);
    linear.bias = Some(Initializer::Zeros.init([d_output], device));
    linear
}

/// A LayerNorm with the config's epsilon (weight one, bias zero).
pub(crate) fn layer_norm(d_model: usize, epsilon: f64, device: &Device) -> LayerNorm {
    LayerNormConfig::new(d_model)
        .with_epsilon(epsilon)
        .init(device)
}

/// An Embedding ~ N(0, std) whose `padding_idx` row, if any, is zero.
pub(crate) fn embedding(
    n_embedding: usize,
    d_model: usize,
    std: f64,
    padding_idx: Option<usize>,
    device: &Device,
) -> Embedding {
    let mut embedding = EmbeddingConfig::new(n_embedding, d_model)
        .with_initializer(Initializer::Normal { mean: 0.0, std })
        .init(device);
    if let Some(pad) = padding_idx.filter(|&pad| pad < n_embedding) {
        embedding.weight = embedding
            .weight
            .map(|weight| weight.slice_fill([pad..pad + 1, 0..d_model], 0.0));
    }
    embedding
}
