#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::bert::BertConfig;
use crate::hf::{AutoConfig, AutoModelForSequenceClassification};
use crate::input::EncoderInput;

fn tiny_config() -> BertConfig {
    BertConfig {
        hidden_dropout_prob: 0.0,
        attention_probs_dropout_prob: 0.0,
        ..BertConfig::tiny_for_tests()
    }
}

fn model(device: &Device, seed: u64) -> AutoModelForSequenceClassification {
    device.seed(seed);
    AutoModelForSequenceClassification::new(&AutoConfig::Bert(tiny_config()), device).unwrap()
}

fn logits(model: &AutoModelForSequenceClassification, device: &Device) -> Vec<f32> {
    let input = EncoderInput::from_slices(
        &[2, 5, 9, 3, 7, 11, 3, 0],
        Some(&[1, 1, 1, 1, 1, 1, 1, 0]),
        None,
        [2, 4],
        model.input_spec(),
        device,
    )
    .unwrap();
    model
        .forward(input, None)
        .logits
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap()
}

fn config() -> LoraConfig {
    LoraConfig::new(2, 8.0, vec!["query".into(), "value".into()])
}

/// Sets every `lora.b` to a seeded random value, as training would move it.
fn perturb_b(
    model: AutoModelForSequenceClassification,
    device: &Device,
) -> AutoModelForSequenceClassification {
    let mut model = model;
    let tensors = model
        .collect(None, None, true)
        .into_iter()
        .filter(|t| t.name.ends_with(".lora.b"))
        .map(|t| {
            let b = Tensor::<2>::random(
                [t.shape[0], t.shape[1]],
                Distribution::Normal(0.0, 0.5),
                device,
            );
            bridge::from_data(b.into_data(), t.name.clone(), None)
        })
        .collect();
    apply(&mut model, tensors, None, Path::new("test")).unwrap();
    model
}

/// The paths of the parameters that require a gradient.
fn trainable_paths<M: Module>(model: &M) -> Vec<String> {
    #[derive(Default)]
    struct Paths {
        stack: Vec<String>,
        trainable: Vec<String>,
    }
    impl burn::module::ModuleVisitor for Paths {
        fn enter_module(&mut self, name: &str, container_type: &str) {
            if !container_type.starts_with("Enum:") {
                self.stack.push(name.to_string());
            }
        }
        fn exit_module(&mut self, _name: &str, container_type: &str) {
            if !container_type.starts_with("Enum:") {
                self.stack.pop();
            }
        }
        fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
            if param.is_require_grad() {
                self.trainable.push(self.stack.join("."));
            }
        }
    }
    let mut paths = Paths::default();
    model.visit(&mut paths);
    paths.trainable
}

#[test]
fn fresh_adapters_leave_the_outputs_and_train_only_the_factors_and_the_head() {
    let device = Device::flex();
    let base = model(&device, 3);
    let before = logits(&base, &device);
    let adapted = get_peft_model(base, &config()).unwrap();
    assert!(has_adapters(&adapted));
    assert_eq!(logits(&adapted, &device), before, "B = 0 changes nothing");

    let trainable = trainable_paths(
        &adapted
            .clone()
            .to_device(&device.clone().autodiff())
            .train(),
    );
    // 2 layers × (query, value) × (A, B), and the classifier; not the pooler.
    assert_eq!(trainable.len(), 2 * 2 * 2 + 2, "{trainable:?}");
    assert!(trainable.contains(
        &"bert.encoder.layer.1.attention.self_attention.value.weight.lora.b".to_string()
    ));
    assert!(trainable.contains(&"classifier.weight".to_string()));
    assert!(!trainable.iter().any(|n| n.contains("pooler")));

    // A is PEFT's kaiming_uniform(a=√5): within ±1/√in_features, and not degenerate.
    let a = adapted
        .collect(None, None, true)
        .into_iter()
        .find(|t| {
            t.name
                .ends_with("layer.0.attention.self_attention.query.weight.lora.a")
        })
        .unwrap();
    assert_eq!(a.shape.to_vec(), [16, 2]);
    let values = bridge::into_data(a).unwrap().try_into_vec::<f32>().unwrap();
    let bound = 1.0 / 16f32.sqrt();
    assert!(values.iter().all(|v| v.abs() <= bound), "{values:?}");
    assert!(values.iter().any(|v| v.abs() > bound / 4.0), "{values:?}");
}

#[test]
fn a_saved_adapter_has_peft_keys_and_loads_back_onto_its_base() {
    let device = Device::flex();
    // One base for both sides: tests share the device's RNG, so a reseeded rebuild could differ.
    let base = model(&device, 3);
    let adapted = perturb_b(get_peft_model(base.clone(), &config()).unwrap(), &device);
    let expected = logits(&adapted, &device);
    let dir = tempfile::tempdir().unwrap();
    save_adapter(&adapted, &config(), dir.path()).unwrap();

    let stored = read_checkpoint(&dir.path().join(ADAPTER_WEIGHTS_FILE)).unwrap();
    let keys: Vec<(&str, Vec<usize>)> = stored
        .iter()
        .map(|(k, t)| (k.as_str(), t.shape.to_vec()))
        .collect();
    assert_eq!(keys.len(), 2 * 2 * 2 + 2, "{keys:?}");
    assert!(keys.contains(&(
        "base_model.model.bert.encoder.layer.0.attention.self.query.lora_A.weight",
        vec![2, 16]
    )));
    assert!(keys.contains(&(
        "base_model.model.bert.encoder.layer.1.attention.self.value.lora_B.weight",
        vec![16, 2]
    )));
    assert!(keys.contains(&("base_model.model.classifier.weight", vec![2, 16])));
    let config_back = LoraConfig::from_dir(dir.path()).unwrap();
    assert_eq!(config_back, config());

    // Onto the same base the adapter reproduces the outputs.
    let (loaded, _) = load_adapter(base, dir.path()).unwrap();
    assert_eq!(logits(&loaded, &device), expected);
    // Merged, it computes the same within rounding, with no adapters left.
    let merged = merge_and_unload(loaded);
    assert!(!has_adapters(&merged));
    for (m, e) in logits(&merged, &device).iter().zip(&expected) {
        assert!((m - e).abs() < 1e-5, "{m} vs {e}");
    }
    // Saved in full, the merged weights reload as a plain model with the same outputs.
    let full = tempfile::tempdir().unwrap();
    merged.save_pretrained(full.path()).unwrap();
    let (reloaded, report) =
        AutoModelForSequenceClassification::from_pretrained(full.path(), &device).unwrap();
    assert!(report.is_exact(), "{report}");
    assert_eq!(logits(&reloaded, &device), logits(&merged, &device));
}

#[test]
fn saving_an_adapted_model_in_full_merges_it() {
    let device = Device::flex();
    let adapted = perturb_b(
        get_peft_model(model(&device, 3), &config()).unwrap(),
        &device,
    );
    let keys = adapted.hf_state_dict_shapes();
    assert!(keys.iter().all(|(k, _)| !k.contains("lora")), "{keys:?}");
    let dir = tempfile::tempdir().unwrap();
    adapted.save_pretrained(dir.path()).unwrap();
    let (reloaded, _) =
        AutoModelForSequenceClassification::from_pretrained(dir.path(), &device).unwrap();
    for (m, e) in logits(&reloaded, &device)
        .iter()
        .zip(logits(&adapted, &device))
    {
        assert!((m - e).abs() < 1e-5, "{m} vs {e}");
    }
}

#[test]
fn rslora_scales_by_alpha_over_the_root_of_r() {
    let device = Device::flex();
    let mut config = config();
    config.use_rslora = true;
    config.r = 4;
    let adapted = get_peft_model(model(&device, 3), &config).unwrap();
    let scale = adapted
        .collect(None, None, true)
        .iter()
        .filter(|t| t.name.ends_with(".lora.a"))
        .count();
    assert_eq!(scale, 4);
    let crate::hf::AutoModelForSequenceClassification::Bert(bert) = &adapted else {
        panic!("a BERT model");
    };
    let query = &bert.bert.encoder.layer[0]
        .attention
        .self_attention
        .query
        .weight;
    assert_eq!(
        query
            .reparameterization::<super::LoraLayer>()
            .unwrap()
            .scale,
        4.0,
        "8 / √4"
    );
}

#[test]
fn target_modules_the_architecture_lacks_are_named_with_its_linear_layers() {
    let device = Device::flex();
    let config = LoraConfig::new(2, 8.0, vec!["query".into(), "q_lin".into()]);
    let err = get_peft_model(model(&device, 3), &config)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(
            "target module `q_lin` is not a linear layer of BertForSequenceClassification"
        ),
        "{err}"
    );
    assert!(err.contains("dense, key, query, value"), "{err}");
    assert!(err.contains("default for it: query,value"), "{err}");
}

#[test]
fn an_adapter_of_another_base_is_refused_naming_the_tensor() {
    let device = Device::flex();
    let adapted = get_peft_model(model(&device, 3), &config()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    save_adapter(&adapted, &config(), dir.path()).unwrap();
    let wider = BertConfig {
        hidden_size: 32,
        intermediate_size: 48,
        ..tiny_config()
    };
    let other = AutoModelForSequenceClassification::new(&AutoConfig::Bert(wider), &device).unwrap();
    let err = load_adapter(other, dir.path()).unwrap_err().to_string();
    assert!(err.contains("does not fit this model"), "{err}");
    assert!(
        err.contains("lora_A.weight` is [2, 16] in the file but [2, 32]"),
        "{err}"
    );
}

#[test]
fn lora_dropout_reaches_the_target_layers_in_training_only() {
    let device = Device::flex();
    let ad = device.clone().autodiff();
    let lora = LoraConfig {
        lora_dropout: 0.5,
        ..config()
    };
    let dropped = perturb_b(get_peft_model(model(&device, 3), &lora).unwrap(), &device);
    let train_logits = |model: &AutoModelForSequenceClassification| {
        logits(&model.clone().to_device(&ad).train(), &ad)
    };
    let inference = logits(&dropped, &device);
    // The tiny model's own dropout is 0: merged (no LoRA dropout), training computes
    // inference's logits; adapted, each step draws another mask on the query and value inputs.
    let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-5);
    assert!(close(
        &train_logits(&merge_and_unload(dropped.clone())),
        &inference
    ));
    let (one, two) = (train_logits(&dropped), train_logits(&dropped));
    assert!(
        !close(&one, &inference) && !close(&one, &two),
        "{one:?} {two:?}"
    );
}
