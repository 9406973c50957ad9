//! Label names and ids.

use std::collections::BTreeMap;

use crate::error::{DataError, Result};

/// Label names by id: name `i` is label id `i` (like a `datasets` `ClassLabel`, and like
/// `id2label` in a Hugging Face `config.json`). `-1` is "unlabelled" and has no name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelMap {
    names: Vec<String>,
}

impl LabelMap {
    /// A map whose id `i` is `names[i]`.
    ///
    /// # Errors
    /// [`DataError::InvalidLabelMap`] when a name is empty or repeated.
    pub fn new<I, S>(names: I) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let names: Vec<String> = names.into_iter().map(Into::into).collect();
        for (i, name) in names.iter().enumerate() {
            if name.trim().is_empty() {
                return Err(DataError::InvalidLabelMap {
                    reason: format!("label {i} has an empty name"),
                });
            }
            if names[..i].contains(name) {
                return Err(DataError::InvalidLabelMap {
                    reason: format!("the name `{name}` is given twice"),
                });
            }
        }
        Ok(Self { names })
    }

    /// IMDB's labels: `0` = `neg`, `1` = `pos`.
    pub fn imdb() -> Self {
        Self {
            names: vec!["neg".into(), "pos".into()],
        }
    }

    /// `n` unnamed labels, called `LABEL_0` … `LABEL_{n-1}` as `transformers` does by default.
    pub fn unnamed(n: usize) -> Self {
        Self {
            names: (0..n).map(|i| format!("LABEL_{i}")).collect(),
        }
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether there are no labels.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The names in id order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The name of label `id`.
    pub fn name(&self, id: i64) -> Option<&str> {
        usize::try_from(id)
            .ok()
            .and_then(|i| self.names.get(i))
            .map(String::as_str)
    }

    /// The id of label `name`.
    pub fn id(&self, name: &str) -> Option<i64> {
        self.names.iter().position(|n| n == name).map(|i| i as i64)
    }

    /// `{id: name}`, as `id2label` in a Hugging Face `config.json`.
    pub fn id2label(&self) -> BTreeMap<i64, String> {
        self.names
            .iter()
            .enumerate()
            .map(|(i, n)| (i as i64, n.clone()))
            .collect()
    }

    /// `{name: id}`, as `label2id` in a Hugging Face `config.json`.
    pub fn label2id(&self) -> BTreeMap<String, i64> {
        self.names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i as i64))
            .collect()
    }

    /// Whether `id` is a valid label for this map (`-1`, unlabelled, always is).
    pub(crate) fn accepts(&self, id: i64) -> bool {
        id == -1 || (id >= 0 && (id as u64) < self.names.len() as u64)
    }

    /// The `ClassLabel` feature that `datasets` writes into parquet metadata.
    pub(crate) fn to_hf_features_json(&self, with_rating: bool) -> String {
        let mut features = serde_json::Map::new();
        features.insert(
            "text".into(),
            serde_json::json!({"dtype": "string", "_type": "Value"}),
        );
        features.insert(
            "label".into(),
            serde_json::json!({"names": self.names, "_type": "ClassLabel"}),
        );
        if with_rating {
            features.insert(
                "rating".into(),
                serde_json::json!({"dtype": "int64", "_type": "Value"}),
            );
        }
        features.insert(
            "source_index".into(),
            serde_json::json!({"dtype": "int64", "_type": "Value"}),
        );
        serde_json::json!({"info": {"features": features}}).to_string()
    }

    /// The `ClassLabel` names of `column` in a parquet file's `huggingface` metadata, if any.
    pub(crate) fn from_hf_metadata(json: &str, column: &str) -> Option<Self> {
        let value: serde_json::Value = serde_json::from_str(json).ok()?;
        let feature = value.get("info")?.get("features")?.get(column)?;
        if feature.get("_type")?.as_str()? != "ClassLabel" {
            return None;
        }
        let names = feature
            .get("names")?
            .as_array()?
            .iter()
            .map(|n| n.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()?;
        Self::new(names).ok()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ids_and_names() {
        let map = LabelMap::new(["negative", "positive"]).unwrap();
        assert_eq!(map.id("positive"), Some(1));
        assert_eq!(map.name(0), Some("negative"));
        assert_eq!(map.name(2), None);
        assert_eq!(map.name(-1), None);
        assert!(map.accepts(-1) && map.accepts(1) && !map.accepts(2) && !map.accepts(-2));
        assert_eq!(map.id2label()[&1], "positive");
        assert_eq!(map.label2id()["negative"], 0);
    }

    #[test]
    fn rejects_duplicates_and_blanks() {
        assert!(LabelMap::new(["a", "a"]).is_err());
        assert!(LabelMap::new(["a", " "]).is_err());
    }

    #[test]
    fn hf_metadata_round_trip() {
        let json = LabelMap::imdb().to_hf_features_json(false);
        assert_eq!(
            LabelMap::from_hf_metadata(&json, "label"),
            Some(LabelMap::imdb())
        );
        assert_eq!(LabelMap::from_hf_metadata(&json, "text"), None);
        assert_eq!(LabelMap::from_hf_metadata("not json", "label"), None);
    }
}
