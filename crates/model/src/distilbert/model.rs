//! DistilBERT's modules: port of `transformers/models/distilbert/modeling_distilbert.py`.
//!
//! Differences from BERT that matter for parity: no token types; the attention block has no
//! dropout after `out_lin`; the feed-forward block's dropout follows `lin2`; both LayerNorms use
//! eps 1e-12 whatever the config; the head is `pre_classifier` → ReLU → dropout → `classifier`
//! on the first token.

use burn::nn::{Dropout, DropoutConfig, Embedding, LayerNorm, Linear};
use burn::prelude::*;
use burn::tensor::activation::relu;

use super::config::DistilBertConfig;
use crate::error::Result;
use crate::input::EncoderInput;
use crate::nn::attention::{merge_heads, project_heads, scaled_dot_product};
use crate::nn::{self, HiddenAct, add_norm, embed, first_token, init};
use crate::task::SequenceClassifierOutput;

/// DistilBERT's LayerNorm epsilon (hard-coded in HF, not a config key).
const LAYER_NORM_EPS: f64 = 1e-12;

/// Word + position embeddings, LayerNorm, dropout (HF `Embeddings`, `distilbert.embeddings.*`).
#[derive(Module, Debug)]
pub struct DistilBertEmbeddings {
    /// Token embeddings `[vocab_size, dim]`.
    pub word_embeddings: Embedding,
    /// Position embeddings `[max_position_embeddings, dim]` (frozen when sinusoidal).
    pub position_embeddings: Embedding,
    /// LayerNorm after the sum (HF `LayerNorm`).
    pub layer_norm: LayerNorm,
    /// Dropout after the LayerNorm.
    pub dropout: Dropout,
    /// `pad_token_id`: the word row that gets no gradient (HF's `padding_idx`).
    #[module(skip)]
    pub padding_idx: Option<usize>,
}

impl DistilBertEmbeddings {
    /// Builds the block with HF's initialisation (sinusoidal positions when configured).
    pub fn new(config: &DistilBertConfig, device: &Device) -> Self {
        let std = config.initializer_range;
        let mut position_embeddings = init::embedding(
            config.max_position_embeddings,
            config.dim,
            std,
            None,
            device,
        );
        if config.sinusoidal_pos_embds {
            let table = sinusoidal_table(config.max_position_embeddings, config.dim, device);
            position_embeddings.weight = position_embeddings
                .weight
                .map(|_| table)
                .set_require_grad(false);
        }
        Self {
            word_embeddings: init::embedding(
                config.vocab_size,
                config.dim,
                std,
                config.pad_token_id,
                device,
            ),
            position_embeddings,
            layer_norm: init::layer_norm(config.dim, LAYER_NORM_EPS, device),
            dropout: DropoutConfig::new(config.dropout).init(),
            padding_idx: config.pad_token_id,
        }
    }

    /// # Shapes
    /// - `input_ids`: `[batch, seq_len]`
    /// - output: `[batch, seq_len, dim]`
    pub fn forward(&self, input_ids: Tensor<2, Int>) -> Tensor<3> {
        let seq_len = input_ids.dims()[1];
        let positions =
            Tensor::<1, Int>::arange(0..seq_len as i64, &input_ids.device()).unsqueeze::<2>();
        let embeddings = embed(&self.word_embeddings, input_ids, self.padding_idx)
            + self.position_embeddings.forward(positions);
        self.dropout.forward(self.layer_norm.forward(embeddings))
    }
}

/// HF's `create_sinusoidal_embeddings`: `sin` on even columns, `cos` on odd ones, of
/// `pos / 10000^(2⌊j/2⌋ / dim)`.
fn sinusoidal_table(positions: usize, dim: usize, device: &Device) -> Tensor<2> {
    let mut values = vec![0f32; positions * dim];
    for pos in 0..positions {
        for j in 0..dim {
            let angle = pos as f64 / 10000f64.powf(2.0 * (j / 2) as f64 / dim as f64);
            values[pos * dim + j] = if j % 2 == 0 { angle.sin() } else { angle.cos() } as f32;
        }
    }
    Tensor::from_data(TensorData::new(values, [positions, dim]), device)
}

/// Multi-head self-attention with its output projection (HF `attention`).
#[derive(Module, Debug)]
pub struct MultiHeadSelfAttention {
    /// Query projection.
    pub q_lin: Linear,
    /// Key projection.
    pub k_lin: Linear,
    /// Value projection.
    pub v_lin: Linear,
    /// Output projection.
    pub out_lin: Linear,
    /// Dropout on the attention probabilities (`attention_dropout`).
    pub dropout: Dropout,
    /// Number of heads.
    pub n_heads: usize,
    /// Width of one head.
    pub head_dim: usize,
}

impl MultiHeadSelfAttention {
    /// Builds the block with HF's initialisation.
    pub fn new(config: &DistilBertConfig, device: &Device) -> Self {
        let (dim, std) = (config.dim, config.initializer_range);
        Self {
            q_lin: init::linear(dim, dim, std, device),
            k_lin: init::linear(dim, dim, std, device),
            v_lin: init::linear(dim, dim, std, device),
            out_lin: init::linear(dim, dim, std, device),
            dropout: DropoutConfig::new(config.attention_dropout).init(),
            n_heads: config.n_heads,
            head_dim: config.head_dim(),
        }
    }

    /// Attends the positions of `queries` to every unmasked position of `hidden`.
    ///
    /// # Shapes
    /// - `queries`: `[batch, n_queries, dim]`
    /// - `hidden`: `[batch, seq_len, dim]`
    /// - `mask`: `[batch, 1, 1, seq_len]`, additive; `None` when every token is attended
    /// - output: `[batch, n_queries, dim]`
    pub fn forward(
        &self,
        queries: Tensor<3>,
        hidden: Tensor<3>,
        mask: Option<Tensor<4>>,
    ) -> Tensor<3> {
        let (heads, head_dim) = (self.n_heads, self.head_dim);
        let query = project_heads(&self.q_lin, queries, heads, head_dim);
        let key = project_heads(&self.k_lin, hidden.clone(), heads, head_dim);
        let value = project_heads(&self.v_lin, hidden, heads, head_dim);
        let context = merge_heads(scaled_dot_product(query, key, value, mask, &self.dropout));
        nn::linear(&self.out_lin, context)
    }
}

/// The feed-forward block: `lin1` → activation → `lin2` → dropout (HF `FFN`, `ffn`).
#[derive(Module, Debug)]
pub struct Ffn {
    /// Projection `dim → hidden_dim`.
    pub lin1: Linear,
    /// Projection `hidden_dim → dim`.
    pub lin2: Linear,
    /// Dropout on the output (`dropout`).
    pub dropout: Dropout,
    /// The activation (`activation`).
    #[module(skip)]
    pub activation: HiddenAct,
}

impl Ffn {
    /// Builds the block with HF's initialisation.
    pub fn new(config: &DistilBertConfig, device: &Device) -> Self {
        let std = config.initializer_range;
        Self {
            lin1: init::linear(config.dim, config.hidden_dim, std, device),
            lin2: init::linear(config.hidden_dim, config.dim, std, device),
            dropout: DropoutConfig::new(config.dropout).init(),
            activation: config.activation,
        }
    }

    /// # Shapes
    /// - `hidden`, output: `[batch, len, dim]`
    pub fn forward(&self, hidden: Tensor<3>) -> Tensor<3> {
        let inner = self.activation.forward(nn::linear(&self.lin1, hidden));
        self.dropout.forward(nn::linear(&self.lin2, inner))
    }
}

/// One layer: attention, residual + `sa_layer_norm`, feed-forward, residual +
/// `output_layer_norm` (HF `TransformerBlock`, `transformer.layer.N`).
#[derive(Module, Debug)]
pub struct TransformerBlock {
    /// Self-attention.
    pub attention: MultiHeadSelfAttention,
    /// LayerNorm after attention.
    pub sa_layer_norm: LayerNorm,
    /// Feed-forward block.
    pub ffn: Ffn,
    /// LayerNorm after the feed-forward block.
    pub output_layer_norm: LayerNorm,
}

impl TransformerBlock {
    /// Builds the layer with HF's initialisation.
    pub fn new(config: &DistilBertConfig, device: &Device) -> Self {
        Self {
            attention: MultiHeadSelfAttention::new(config, device),
            sa_layer_norm: init::layer_norm(config.dim, LAYER_NORM_EPS, device),
            ffn: Ffn::new(config, device),
            output_layer_norm: init::layer_norm(config.dim, LAYER_NORM_EPS, device),
        }
    }

    /// The layer's output at the positions of `queries` (rows of `hidden`; all of them for a
    /// full layer): keys and values come from every position of `hidden`.
    ///
    /// # Shapes
    /// - `queries`: `[batch, n_queries, dim]`
    /// - `hidden`: `[batch, seq_len, dim]`
    /// - `mask`: `[batch, 1, 1, seq_len]`, additive; `None` when every token is attended
    /// - output: `[batch, n_queries, dim]`
    pub fn forward(
        &self,
        queries: Tensor<3>,
        hidden: Tensor<3>,
        mask: Option<Tensor<4>>,
    ) -> Tensor<3> {
        let attended = self.attention.forward(queries.clone(), hidden, mask);
        let attended = add_norm(&self.sa_layer_norm, attended, queries);
        add_norm(
            &self.output_layer_norm,
            self.ffn.forward(attended.clone()),
            attended,
        )
    }
}

/// The stack of [`TransformerBlock`]s (HF `Transformer`, `transformer`).
#[derive(Module, Debug)]
pub struct Transformer {
    /// The layers, HF `transformer.layer.0`, ….
    pub layer: Vec<TransformerBlock>,
}

impl Transformer {
    /// Builds `n_layers` layers with HF's initialisation.
    pub fn new(config: &DistilBertConfig, device: &Device) -> Self {
        Self {
            layer: (0..config.n_layers)
                .map(|_| TransformerBlock::new(config, device))
                .collect(),
        }
    }

    /// The first token's last hidden state and, when `output_hidden_states`, the embeddings
    /// then every layer's output. Without hidden states the last layer runs for the first
    /// token alone, which is all the head reads.
    ///
    /// # Shapes
    /// - `hidden`: `[batch, seq_len, dim]`
    /// - output: `[batch, dim]`, and `n_layers + 1` tensors `[batch, seq_len, dim]`
    pub fn forward_head_input(
        &self,
        mut hidden: Tensor<3>,
        mask: Option<Tensor<4>>,
        output_hidden_states: bool,
    ) -> (Tensor<2>, Option<Vec<Tensor<3>>>) {
        let mut states = output_hidden_states.then(|| vec![hidden.clone()]);
        let count = self.layer.len();
        for (i, layer) in self.layer.iter().enumerate() {
            let last = i + 1 == count;
            if last && states.is_none() {
                let batch = hidden.dims()[0];
                let first = hidden.clone().slice([0..batch, 0..1]);
                return (first_token(layer.forward(first, hidden, mask)), None);
            }
            hidden = layer.forward(hidden.clone(), hidden, mask.clone());
            if let Some(states) = states.as_mut() {
                states.push(hidden.clone());
            }
        }
        (first_token(hidden), states)
    }
}

/// The DistilBERT encoder (HF `DistilBertModel`, the `distilbert.*` weights).
#[derive(Module, Debug)]
pub struct DistilBertModel {
    /// Embedding block.
    pub embeddings: DistilBertEmbeddings,
    /// Transformer layers.
    pub transformer: Transformer,
}

/// DistilBERT with a classification head (HF `DistilBertForSequenceClassification`): first
/// token → `pre_classifier` → ReLU → dropout → `classifier`.
#[derive(Module, Debug)]
pub struct DistilBertForSequenceClassification {
    /// The encoder (HF `distilbert`).
    pub distilbert: DistilBertModel,
    /// Projection `dim → dim` before the classifier.
    pub pre_classifier: Linear,
    /// The head, `dim → num_labels`.
    pub classifier: Linear,
    /// Dropout before the classifier (`seq_classif_dropout`).
    pub dropout: Dropout,
    /// The configuration the model was built from, written back by `save_pretrained`.
    #[module(skip)]
    pub config: DistilBertConfig,
}

impl DistilBertForSequenceClassification {
    /// Builds a randomly initialised model (HF's initialisation).
    ///
    /// # Errors
    /// [`ModelError::InvalidConfig`](crate::ModelError::InvalidConfig) if the config does not
    /// validate.
    pub fn new(config: &DistilBertConfig, device: &Device) -> Result<Self> {
        config.validate()?;
        let std = config.initializer_range;
        Ok(Self {
            distilbert: DistilBertModel {
                embeddings: DistilBertEmbeddings::new(config, device),
                transformer: Transformer::new(config, device),
            },
            pre_classifier: init::linear(config.dim, config.dim, std, device),
            classifier: init::linear(config.dim, config.pretrained.num_labels(), std, device),
            dropout: DropoutConfig::new(config.seq_classif_dropout).init(),
            config: config.clone(),
        })
    }

    /// Classifies a batch; with `labels`, also returns the mean cross-entropy loss. Token
    /// types, if any, are ignored (DistilBERT has none).
    ///
    /// # Shapes
    /// - `input`: `[batch, seq_len]` tensors
    /// - `labels`: `[batch]`
    /// - `logits`: `[batch, num_labels]`
    pub fn forward(
        &self,
        input: EncoderInput,
        labels: Option<Tensor<1, Int>>,
    ) -> SequenceClassifierOutput {
        let (first, hidden_states) = self.forward_head_input(input);
        SequenceClassifierOutput {
            hidden_states,
            ..self.forward_head(first, labels)
        }
    }

    /// The head's input, the first token's last hidden state `[batch, dim]`, and, when
    /// [`EncoderInput::output_hidden_states`] is set, the embeddings then every layer's output.
    /// Without hidden states the last layer runs for the first token alone.
    pub fn forward_head_input(&self, input: EncoderInput) -> (Tensor<2>, Option<Vec<Tensor<3>>>) {
        let mask = input.attention_bias();
        let embedded = self.distilbert.embeddings.forward(input.input_ids);
        self.distilbert
            .transformer
            .forward_head_input(embedded, mask, input.output_hidden_states)
    }

    /// The head alone (`pre_classifier` → ReLU → dropout → `classifier`) on the first token's
    /// last hidden state, `[batch, dim]`.
    pub fn forward_head(
        &self,
        first: Tensor<2>,
        labels: Option<Tensor<1, Int>>,
    ) -> SequenceClassifierOutput {
        let pooled = relu(nn::linear(&self.pre_classifier, first.clone()));
        let logits = nn::linear(&self.classifier, self.dropout.forward(pooled));
        SequenceClassifierOutput::new(logits, labels, first, None)
    }
}
