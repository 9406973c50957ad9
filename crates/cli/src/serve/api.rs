//! The two request forms `bertfit serve` answers, read from JSON with the field at fault named in
//! every error, and the error body.
//!
//! - TEI's `POST /predict`: `{"inputs": …, "truncate", "truncation_direction", "raw_scores"}`,
//!   where `inputs` is a string, a pair `[a, b]`, or a batch `[[a], [a, b], …]` (TEI's own
//!   reading: a list of two strings is one pair).
//! - The HF Inference API's text classification (`POST /`, `POST /models/{name}`):
//!   `{"inputs": …, "parameters": {"function_to_apply", "top_k"}}`, where `inputs` is a string,
//!   a list of strings, `{"text", "text_pair"}`, or a list of those.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bertfit_tokenize::TruncationSide;
use serde_json::{Map, Value, json};

/// An error answer: the HTTP status, TEI's `error_type`, the message and the field at fault.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// TEI's `error_type`: `Validation`, `Empty`, `Overloaded`, … .
    pub kind: &'static str,
    /// What is wrong and how to fix it.
    pub message: String,
    /// The request field at fault (`inputs[2][1]`, `parameters.top_k`), when one is.
    pub field: Option<String>,
    /// Seconds a client should wait before retrying (429).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// A 422 `Validation` error of `field`.
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "Validation", message).at(field)
    }

    /// An error with no field.
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    /// This error, naming `field`.
    #[must_use]
    pub fn at(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({"error": self.message, "error_type": self.kind});
        if let (Some(field), Some(map)) = (&self.field, body.as_object_mut()) {
            map.insert("field".into(), json!(field));
        }
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

/// One input: a text, or a pair encoded as one sequence (`[CLS] a [SEP] b [SEP]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sequence {
    /// One text.
    Single(String),
    /// A text pair.
    Pair(String, String),
}

/// A TEI `/predict` request.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictRequest {
    /// The inputs, with the field path of each.
    pub inputs: Vec<(String, Sequence)>,
    /// Whether `inputs` was a batch (the answer is then a list of lists).
    pub batch: bool,
    /// `truncate`; `None` leaves it to `--auto-truncate`.
    pub truncate: Option<bool>,
    /// `truncation_direction`.
    pub truncation_side: TruncationSide,
    /// `raw_scores`: the logits instead of probabilities.
    pub raw_scores: bool,
}

/// What turns logits into scores (the HF pipeline's `function_to_apply`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// Probabilities that sum to 1.
    Softmax,
    /// Each label's own probability.
    Sigmoid,
    /// The logits as they are.
    None,
}

/// An HF Inference API text-classification request.
#[derive(Debug, Clone, PartialEq)]
pub struct HfRequest {
    /// The inputs, with the field path of each.
    pub inputs: Vec<(String, Sequence)>,
    /// `parameters.function_to_apply`; `None` is the pipeline's default for the model.
    pub function: Option<Function>,
    /// `parameters.top_k`: the best k labels per input (all when unset).
    pub top_k: Option<usize>,
}

/// Parses a request body as JSON: a 400 naming the line and column of a syntax error, invalid
/// UTF-8 included.
pub fn parse_json(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "Validation",
            "the request body is empty; send a JSON object such as {\"inputs\": \"I loved it\"}",
        ));
    }
    let value: Value = serde_json::from_slice(body).map_err(|err| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "Validation",
            format!("the request body is not valid JSON (UTF-8): {err}"),
        )
    })?;
    match value {
        Value::Object(map) => Ok(map),
        other => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Validation",
            format!(
                "the request body is a JSON {}, not an object; send {{\"inputs\": …}}",
                type_name(&other)
            ),
        )),
    }
}

/// Reads a TEI `/predict` request.
pub fn predict_request(body: &[u8]) -> Result<PredictRequest, ApiError> {
    let map = parse_json(body)?;
    known_fields(
        &map,
        "",
        &["inputs", "truncate", "truncation_direction", "raw_scores"],
    )?;
    let (inputs, batch) = tei_inputs(required(&map, "inputs")?)?;
    let truncate = optional_bool(&map, "truncate")?;
    let truncation_side = match map.get("truncation_direction") {
        None | Some(Value::Null) => TruncationSide::Right,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("right") => TruncationSide::Right,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("left") => TruncationSide::Left,
        Some(other) => {
            return Err(ApiError::validation(
                "truncation_direction",
                format!(
                    "truncation_direction is {}; use \"right\" or \"left\"",
                    describe(other)
                ),
            ));
        }
    };
    let raw_scores = optional_bool(&map, "raw_scores")?.unwrap_or(false);
    Ok(PredictRequest {
        inputs,
        batch,
        truncate,
        truncation_side,
        raw_scores,
    })
}

/// Reads an HF Inference API text-classification request.
pub fn hf_request(body: &[u8]) -> Result<HfRequest, ApiError> {
    let map = parse_json(body)?;
    known_fields(&map, "", &["inputs", "parameters", "options"])?;
    let inputs = hf_inputs(required(&map, "inputs")?)?;
    let (mut function, mut top_k) = (None, None);
    match map.get("parameters") {
        None | Some(Value::Null) => {}
        Some(Value::Object(parameters)) => {
            known_fields(parameters, "parameters.", &["function_to_apply", "top_k"])?;
            function = match parameters.get("function_to_apply") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(match s.to_ascii_lowercase().as_str() {
                    "softmax" => Function::Softmax,
                    "sigmoid" => Function::Sigmoid,
                    "none" => Function::None,
                    _ => return Err(function_error(&Value::String(s.clone()))),
                }),
                Some(other) => return Err(function_error(other)),
            };
            top_k = match parameters.get("top_k") {
                None | Some(Value::Null) => None,
                Some(Value::Number(n)) if n.as_u64().is_some_and(|k| k >= 1) => {
                    n.as_u64().and_then(|k| usize::try_from(k).ok())
                }
                Some(other) => {
                    return Err(ApiError::validation(
                        "parameters.top_k",
                        format!(
                            "top_k is {}; use a whole number of 1 or more",
                            describe(other)
                        ),
                    ));
                }
            };
        }
        Some(other) => {
            return Err(ApiError::validation(
                "parameters",
                format!(
                    "parameters is {}; send an object such as {{\"top_k\": 2}}",
                    describe(other)
                ),
            ));
        }
    }
    Ok(HfRequest {
        inputs,
        function,
        top_k,
    })
}

fn function_error(value: &Value) -> ApiError {
    ApiError::validation(
        "parameters.function_to_apply",
        format!(
            "function_to_apply is {}; use \"softmax\", \"sigmoid\" or \"none\"",
            describe(value)
        ),
    )
}

/// TEI's `inputs`: a string; `[a]` or `[a, b]` (one input); `[[a], [a, b], …]` (a batch).
fn tei_inputs(value: &Value) -> Result<(Vec<(String, Sequence)>, bool), ApiError> {
    const FORMS: &str =
        "use a string, a pair [\"a\", \"b\"], or a batch [[\"a\"], [\"a\", \"b\"], …]";
    match value {
        Value::String(s) => Ok((vec![("inputs".into(), single("inputs", s)?)], false)),
        Value::Array(items) if items.is_empty() => Err(empty_inputs()),
        Value::Array(items) if items.iter().all(Value::is_array) => {
            let batch = items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    let field = format!("inputs[{i}]");
                    let sequence = tei_sequence(&field, item, FORMS)?;
                    Ok((field, sequence))
                })
                .collect::<Result<_, ApiError>>()?;
            Ok((batch, true))
        }
        Value::Array(_) => Ok((
            vec![("inputs".into(), tei_sequence("inputs", value, FORMS)?)],
            false,
        )),
        other => Err(ApiError::validation(
            "inputs",
            format!("inputs is {}; {FORMS}", describe(other)),
        )),
    }
}

/// One TEI sequence: `[a]` or `[a, b]`.
fn tei_sequence(field: &str, value: &Value, forms: &str) -> Result<Sequence, ApiError> {
    let items = value.as_array().map_or(&[][..], Vec::as_slice);
    let text = |i: usize| -> Result<String, ApiError> {
        let f = format!("{field}[{i}]");
        match &items[i] {
            Value::String(s) => checked_text(&f, s),
            other => Err(ApiError::validation(
                &f,
                format!("{f} is {}; it must be a string", describe(other)),
            )),
        }
    };
    match items.len() {
        1 => Ok(Sequence::Single(text(0)?)),
        2 => Ok(Sequence::Pair(text(0)?, text(1)?)),
        n => Err(ApiError::validation(
            field,
            format!("{field} has {n} items; an input is one text or a pair of two; {forms}"),
        )),
    }
}

/// The HF API's `inputs`: a string, `{"text", "text_pair"}`, or a list of those.
fn hf_inputs(value: &Value) -> Result<Vec<(String, Sequence)>, ApiError> {
    match value {
        Value::Array(items) if items.is_empty() => Err(empty_inputs()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let field = format!("inputs[{i}]");
                let sequence = hf_sequence(&field, item)?;
                Ok((field, sequence))
            })
            .collect(),
        other => Ok(vec![("inputs".into(), hf_sequence("inputs", other)?)]),
    }
}

fn hf_sequence(field: &str, value: &Value) -> Result<Sequence, ApiError> {
    match value {
        Value::String(s) => single(field, s),
        Value::Object(map) => {
            known_fields(map, &format!("{field}."), &["text", "text_pair"])?;
            let part = |key: &str| -> Result<Option<String>, ApiError> {
                let f = format!("{field}.{key}");
                match map.get(key) {
                    None | Some(Value::Null) => Ok(None),
                    Some(Value::String(s)) => checked_text(&f, s).map(Some),
                    Some(other) => Err(ApiError::validation(
                        &f,
                        format!("{f} is {}; it must be a string", describe(other)),
                    )),
                }
            };
            match (part("text")?, part("text_pair")?) {
                (Some(a), Some(b)) => Ok(Sequence::Pair(a, b)),
                (Some(a), None) => Ok(Sequence::Single(a)),
                (None, _) => Err(ApiError::validation(
                    format!("{field}.text"),
                    format!("{field} has no \"text\"; send {{\"text\": …, \"text_pair\": …}}"),
                )),
            }
        }
        other => Err(ApiError::validation(
            field,
            format!(
                "{field} is {}; use a string, {{\"text\", \"text_pair\"}}, or a list of those",
                describe(other)
            ),
        )),
    }
}

fn single(field: &str, text: &str) -> Result<Sequence, ApiError> {
    checked_text(field, text).map(Sequence::Single)
}

/// A text with something in it: an empty or whitespace-only one is TEI's `Empty` error (400).
fn checked_text(field: &str, text: &str) -> Result<String, ApiError> {
    if text.trim().is_empty() {
        let what = if text.is_empty() {
            "empty"
        } else {
            "only whitespace"
        };
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "Empty",
            format!("{field} is {what}; there is nothing to classify in it"),
        )
        .at(field));
    }
    Ok(text.to_string())
}

fn empty_inputs() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "Empty",
        "inputs is an empty list; send at least one text",
    )
    .at("inputs")
}

fn required<'a>(map: &'a Map<String, Value>, key: &str) -> Result<&'a Value, ApiError> {
    match map.get(key) {
        None | Some(Value::Null) => Err(ApiError::validation(
            key,
            format!("the request has no \"{key}\"; send {{\"{key}\": \"a text\"}}"),
        )),
        Some(value) => Ok(value),
    }
}

fn optional_bool(map: &Map<String, Value>, key: &str) -> Result<Option<bool>, ApiError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(ApiError::validation(
            key,
            format!("{key} is {}; use true or false", describe(other)),
        )),
    }
}

/// Refuses keys outside `known`, which are most often misspellings (`input` for `inputs`).
fn known_fields(map: &Map<String, Value>, prefix: &str, known: &[&str]) -> Result<(), ApiError> {
    match map.keys().find(|k| !known.contains(&k.as_str())) {
        Some(key) => Err(ApiError::validation(
            format!("{prefix}{key}"),
            format!(
                "unknown field \"{prefix}{key}\"; the fields are {}",
                known
                    .iter()
                    .map(|k| format!("\"{prefix}{k}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
        None => Ok(()),
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// `a number (3)`, `an object`, … for messages.
fn describe(value: &Value) -> String {
    match value {
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
        Value::Null => "null".into(),
        other => format!("a {} ({other})", type_name(other)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn tei(body: &str) -> Result<PredictRequest, ApiError> {
        predict_request(body.as_bytes())
    }

    fn texts(inputs: &[(String, Sequence)]) -> Vec<(&str, Sequence)> {
        inputs
            .iter()
            .map(|(f, s)| (f.as_str(), s.clone()))
            .collect()
    }

    fn s(text: &str) -> Sequence {
        Sequence::Single(text.into())
    }

    #[test]
    fn tei_inputs_read_as_tei_reads_them() {
        let r = tei(r#"{"inputs": "good"}"#).unwrap();
        assert_eq!(texts(&r.inputs), [("inputs", s("good"))]);
        assert!(!r.batch && r.truncate.is_none() && !r.raw_scores);
        assert_eq!(r.truncation_side, TruncationSide::Right);
        // Two strings are one pair, as in TEI.
        let r = tei(r#"{"inputs": ["a", "b"], "truncate": true, "truncation_direction": "Left", "raw_scores": true}"#).unwrap();
        assert_eq!(
            texts(&r.inputs),
            [("inputs", Sequence::Pair("a".into(), "b".into()))]
        );
        assert!(!r.batch && r.truncate == Some(true) && r.raw_scores);
        assert_eq!(r.truncation_side, TruncationSide::Left);
        let r = tei(r#"{"inputs": [["a"], ["b", "c"]]}"#).unwrap();
        assert!(r.batch);
        assert_eq!(
            texts(&r.inputs),
            [
                ("inputs[0]", s("a")),
                ("inputs[1]", Sequence::Pair("b".into(), "c".into()))
            ]
        );
    }

    fn error(result: Result<impl std::fmt::Debug, ApiError>) -> ApiError {
        result.unwrap_err()
    }

    #[test]
    fn bad_tei_requests_name_the_field_and_the_fix() {
        let cases: [(&str, u16, &str, &str); 12] = [
            ("", 400, "", "body is empty"),
            ("{\"inputs\": ", 400, "", "not valid JSON"),
            ("[1]", 422, "", "not an object"),
            ("{}", 422, "inputs", "no \"inputs\""),
            (r#"{"input": "a"}"#, 422, "input", "unknown field \"input\""),
            (r#"{"inputs": 3}"#, 422, "inputs", "a number (3)"),
            (r#"{"inputs": []}"#, 400, "inputs", "empty list"),
            (r#"{"inputs": "  "}"#, 400, "inputs", "only whitespace"),
            (
                r#"{"inputs": [["a"], ["b", ""]]}"#,
                400,
                "inputs[1][1]",
                "empty",
            ),
            (r#"{"inputs": ["a", "b", "c"]}"#, 422, "inputs", "3 items"),
            (
                r#"{"inputs": "a", "truncate": "yes"}"#,
                422,
                "truncate",
                "true or false",
            ),
            (
                r#"{"inputs": "a", "truncation_direction": "up"}"#,
                422,
                "truncation_direction",
                "\"left\"",
            ),
        ];
        for (body, status, field, text) in cases {
            let err = error(tei(body));
            assert_eq!(err.status.as_u16(), status, "{body}: {err:?}");
            assert_eq!(err.field.as_deref().unwrap_or(""), field, "{body}: {err:?}");
            assert!(err.message.contains(text), "{body}: {err:?}");
        }
        let err = error(predict_request(b"{\"inputs\": \"\xff\"}"));
        assert_eq!(err.status.as_u16(), 400);
        assert!(err.message.contains("not valid JSON"), "{err:?}");
    }

    #[test]
    fn hf_requests_take_strings_lists_pairs_and_parameters() {
        let r = hf_request(br#"{"inputs": "good"}"#).unwrap();
        assert_eq!(texts(&r.inputs), [("inputs", s("good"))]);
        assert_eq!((r.function, r.top_k), (None, None));
        let r = hf_request(
            br#"{"inputs": ["a", {"text": "b", "text_pair": "c"}], "parameters": {"function_to_apply": "sigmoid", "top_k": 1}}"#,
        )
        .unwrap();
        assert_eq!(
            texts(&r.inputs),
            [
                ("inputs[0]", s("a")),
                ("inputs[1]", Sequence::Pair("b".into(), "c".into()))
            ]
        );
        assert_eq!((r.function, r.top_k), (Some(Function::Sigmoid), Some(1)));
        // huggingface_hub sends unset parameters as null.
        let r = hf_request(
            br#"{"inputs": "a", "parameters": {"function_to_apply": null, "top_k": null}}"#,
        )
        .unwrap();
        assert_eq!((r.function, r.top_k), (None, None));
        for (body, field) in [
            (
                &br#"{"inputs": "a", "parameters": {"top_k": 0}}"#[..],
                "parameters.top_k",
            ),
            (
                br#"{"inputs": "a", "parameters": {"function_to_apply": "relu"}}"#,
                "parameters.function_to_apply",
            ),
            (
                br#"{"inputs": "a", "parameters": {"topk": 1}}"#,
                "parameters.topk",
            ),
            (br#"{"inputs": "a", "parameters": 1}"#, "parameters"),
            (br#"{"inputs": [{"text_pair": "b"}]}"#, "inputs[0].text"),
            (br#"{"inputs": [1]}"#, "inputs[0]"),
        ] {
            let err = error(hf_request(body));
            assert_eq!(err.status.as_u16(), 422, "{err:?}");
            assert_eq!(err.field.as_deref(), Some(field), "{err:?}");
        }
    }
}
