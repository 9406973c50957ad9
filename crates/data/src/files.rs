//! Local parquet / CSV / JSONL through polars' eager readers, and the parquet / JSONL writers.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::dataset::TextDataset;
use crate::error::{DataError, Result};
use crate::label::LabelMap;
use crate::load::{RawLabels, RawPart};

/// A file format this crate reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileFormat {
    /// Apache Parquet (any compression polars reads: snappy, zstd, gzip, lz4, brotli).
    Parquet,
    /// Comma-separated values with a header row (`.tsv`: tab-separated).
    Csv,
    /// One JSON object per line.
    Jsonl,
}

impl FileFormat {
    /// The format a file name's extension implies: `.parquet`, `.csv`, `.tsv`, `.jsonl`,
    /// `.ndjson` (or `.json`, read as JSON lines).
    pub fn from_path(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "parquet" | "pq" => Some(Self::Parquet),
            "csv" | "tsv" => Some(Self::Csv),
            "jsonl" | "ndjson" | "json" => Some(Self::Jsonl),
            _ => None,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Parquet => "parquet",
            Self::Csv => "CSV",
            Self::Jsonl => "JSONL",
        }
    }

    pub(crate) fn extensions(self) -> &'static [&'static str] {
        match self {
            Self::Parquet => &["parquet", "pq"],
            Self::Csv => &["csv", "tsv"],
            Self::Jsonl => &["jsonl", "ndjson", "json"],
        }
    }
}

fn open(path: &Path, what: &'static str) -> Result<File> {
    if !path.exists() {
        return Err(DataError::NotFound {
            what,
            path: path.to_path_buf(),
        });
    }
    if path.is_dir() {
        return Err(DataError::Io {
            action: "read",
            path: path.to_path_buf(),
            source: std::io::Error::other("is a directory, expected a file"),
        });
    }
    File::open(path).map_err(|e| DataError::io("open", path, e))
}

/// Runs a polars read, turning both its errors and its panics (polars can panic on some corrupt
/// inputs) into [`DataError::Read`].
fn polars_read<T>(
    path: &Path,
    format: FileFormat,
    read: impl FnOnce() -> PolarsResult<T>,
) -> Result<T> {
    let wrap = |source| DataError::Read {
        path: path.to_path_buf(),
        format: format.name(),
        source,
    };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(read)) {
        Ok(result) => result.map_err(wrap),
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "the reader panicked".into());
            Err(wrap(PolarsError::ComputeError(
                format!("malformed file ({message})").into(),
            )))
        }
    }
}

/// Column names of the text and label and what to do with them.
pub(crate) struct Columns<'a> {
    pub text: &'a str,
    pub label: &'a str,
}

/// Reads one file into a raw part (no label mapping or empty-text policy applied yet).
pub(crate) fn read_file(path: &Path, format: FileFormat, columns: &Columns<'_>) -> Result<RawPart> {
    if std::fs::metadata(path).is_ok_and(|m| m.len() == 0) {
        return Err(DataError::EmptyFile {
            path: path.to_path_buf(),
        });
    }
    let (df, label_hint) = match format {
        FileFormat::Parquet => read_parquet(path, columns)?,
        FileFormat::Csv => (read_csv(path)?, None),
        FileFormat::Jsonl => (read_jsonl(path)?, None),
    };
    frame_to_part(path, &df, columns, label_hint)
}

fn read_parquet(path: &Path, columns: &Columns<'_>) -> Result<(DataFrame, Option<LabelMap>)> {
    let file = open(path, "parquet file")?;
    polars_read(path, FileFormat::Parquet, || {
        let mut reader = ParquetReader::new(file);
        let schema = reader.schema()?;
        let names: Vec<String> = schema.iter_names().map(|n| n.to_string()).collect();
        let label_hint = reader
            .get_metadata()?
            .key_value_metadata()
            .as_ref()
            .and_then(|kv| kv.iter().find(|k| k.key == "huggingface"))
            .and_then(|k| k.value.as_deref())
            .and_then(|json| LabelMap::from_hf_metadata(json, columns.label));
        for (column, role) in [(columns.text, "text"), (columns.label, "label")] {
            if !names.iter().any(|n| n == column) {
                return Ok(Err(DataError::MissingColumn {
                    path: path.to_path_buf(),
                    column: column.to_string(),
                    role,
                    found: names.clone(),
                }));
            }
        }
        // Only the columns this crate uses.
        let wanted: Vec<String> = [columns.text, columns.label, "rating", "source_index"]
            .iter()
            .filter(|c| names.iter().any(|n| n == *c))
            .map(|c| c.to_string())
            .collect();
        let df = reader.with_columns(Some(wanted)).finish()?;
        Ok(Ok((df, label_hint)))
    })?
}

fn read_csv(path: &Path) -> Result<DataFrame> {
    let tsv = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("tsv"));
    open(path, "CSV file")?;
    let separator = if tsv { b'\t' } else { b',' };
    polars_read(path, FileFormat::Csv, || {
        // Every column as a string (no type inference): labels are classified as ids or names
        // here, and a texts column of digits stays text.
        CsvReadOptions::default()
            .with_has_header(true)
            .with_infer_schema_length(Some(0))
            .with_raise_if_empty(false)
            .map_parse_options(|o| o.with_separator(separator))
            .try_into_reader_with_file_path(Some(path.to_path_buf()))?
            .finish()
    })
    .map_err(|err| {
        let bytes = std::fs::read(path).unwrap_or_default();
        invalid_utf8_line(path, &bytes)
            .or_else(|| ragged_record(path, &bytes, separator))
            .unwrap_or(err)
    })
}

/// The first line of `bytes` that is not UTF-8, as an error naming it.
fn invalid_utf8_line(path: &Path, bytes: &[u8]) -> Option<DataError> {
    let line = bytes
        .split(|&b| b == b'\n')
        .position(|line| std::str::from_utf8(line).is_err())?;
    Some(DataError::InvalidUtf8 {
        path: path.to_path_buf(),
        line: line + 1,
    })
}

/// The first CSV record of `bytes` whose field count differs from the header's, as an error
/// naming the line it starts on (quoted fields may hold separators and newlines).
fn ragged_record(path: &Path, bytes: &[u8], separator: u8) -> Option<DataError> {
    let (mut line, mut record_line, mut fields, mut quoted) = (1, 1, 1, false);
    let mut expected = None;
    let mut at_record_start = true;
    for &b in bytes.iter().chain(std::iter::once(&b'\n')) {
        match b {
            b'"' => quoted = !quoted,
            b if b == separator && !quoted => fields += 1,
            b'\n' => {
                line += 1;
                if quoted {
                    continue;
                }
                if !at_record_start {
                    match expected {
                        None => expected = Some(fields),
                        Some(n) if n != fields => {
                            return Some(DataError::RaggedRow {
                                path: path.to_path_buf(),
                                line: record_line,
                                found: fields,
                                expected: n,
                            });
                        }
                        Some(_) => {}
                    }
                }
                (fields, record_line, at_record_start) = (1, line, true);
                continue;
            }
            b'\r' => continue,
            _ => {}
        }
        at_record_start = false;
    }
    None
}

fn read_jsonl(path: &Path) -> Result<DataFrame> {
    let file = open(path, "JSONL file")?;
    polars_read(path, FileFormat::Jsonl, || {
        JsonReader::new(file)
            .with_json_format(JsonFormat::JsonLines)
            .infer_schema_len(None)
            .finish()
    })
    .map_err(|err| {
        let bytes = std::fs::read(path).unwrap_or_default();
        invalid_utf8_line(path, &bytes)
            .or_else(|| malformed_line(path))
            .unwrap_or(err)
    })
}

/// The first line of a JSONL file that is not a JSON object, as an error naming it (polars'
/// own error gives a character offset at best).
fn malformed_line(path: &Path) -> Option<DataError> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .find_map(|(i, line)| {
            let message = match serde_json::from_str::<serde_json::Value>(line) {
                Ok(value) if value.is_object() => return None,
                Ok(_) => "a JSON value but not an object".to_string(),
                Err(e) => e.to_string(),
            };
            Some(DataError::MalformedLine {
                path: path.to_path_buf(),
                line: i + 1,
                message,
            })
        })
}

fn frame_to_part(
    path: &Path,
    df: &DataFrame,
    columns: &Columns<'_>,
    label_hint: Option<LabelMap>,
) -> Result<RawPart> {
    let found = || {
        df.get_column_names()
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
    };
    let column = |name: &str, role: &'static str| {
        df.column(name).map_err(|_| DataError::MissingColumn {
            path: path.to_path_buf(),
            column: name.to_string(),
            role,
            found: found(),
        })
    };
    let text_col = column(columns.text, "text")?;
    let label_col = column(columns.label, "label")?;

    let texts = match text_col.dtype() {
        DataType::String => string_values(text_col),
        DataType::Null => vec![None; text_col.len()],
        other => {
            return Err(DataError::ColumnType {
                path: path.to_path_buf(),
                column: columns.text.to_string(),
                role: "text",
                dtype: other.to_string(),
                expected: "a string column",
            });
        }
    };
    let labels = label_values(path, columns.label, label_col)?;
    // Optional columns this crate writes: kept when they are integers.
    let optional_ints = |name: &str| -> Result<Option<Vec<Option<i64>>>> {
        match df.column(name) {
            Ok(c) if c.dtype().is_integer() => {
                let c = c.cast(&DataType::Int64).map_err(|e| read_err(path, e))?;
                let values = c.i64().map_err(|e| read_err(path, e))?;
                Ok(Some(values.iter().collect()))
            }
            _ => Ok(None),
        }
    };
    let ratings = optional_ints("rating")?.map(|v| {
        v.into_iter()
            .map(|r| r.and_then(|r| u8::try_from(r).ok()))
            .collect()
    });
    let source_indices = optional_ints("source_index")?.map(|v| {
        v.into_iter()
            .map(|i| i.and_then(|i| usize::try_from(i).ok()))
            .collect()
    });
    Ok(RawPart {
        path: path.to_path_buf(),
        texts,
        labels,
        ratings,
        source_indices,
        label_hint,
    })
}

fn read_err(path: &Path, source: PolarsError) -> DataError {
    DataError::Read {
        path: path.to_path_buf(),
        format: FileFormat::from_path(path).map_or("data", FileFormat::name),
        source,
    }
}

fn string_values(column: &Column) -> Vec<Option<String>> {
    match column.str() {
        Ok(values) => values.iter().map(|v| v.map(str::to_string)).collect(),
        Err(_) => vec![None; column.len()],
    }
}

fn label_values(path: &Path, name: &str, column: &Column) -> Result<RawLabels> {
    let dtype = column.dtype();
    if dtype.is_integer() {
        let cast = column
            .cast(&DataType::Int64)
            .map_err(|e| read_err(path, e))?;
        let values = cast.i64().map_err(|e| read_err(path, e))?;
        return Ok(RawLabels::Ids(values.iter().collect()));
    }
    let strings = match dtype {
        DataType::String => string_values(column),
        DataType::Null => vec![None; column.len()],
        DataType::Categorical(..) | DataType::Enum(..) => {
            let cast = column
                .cast(&DataType::String)
                .map_err(|e| read_err(path, e))?;
            string_values(&cast)
        }
        other => {
            return Err(DataError::ColumnType {
                path: path.to_path_buf(),
                column: name.to_string(),
                role: "label",
                dtype: other.to_string(),
                expected: "integer ids or string names",
            });
        }
    };
    classify_string_labels(path, name, strings)
}

/// A string label column is ids when every value parses as an integer, names when none does,
/// and an error when it mixes both.
pub(crate) fn classify_string_labels(
    path: &Path,
    name: &str,
    values: Vec<Option<String>>,
) -> Result<RawLabels> {
    let parsed: Vec<Option<std::result::Result<i64, &str>>> = values
        .iter()
        .map(|v| v.as_deref().map(|s| s.trim().parse::<i64>().map_err(|_| s)))
        .collect();
    let int_example = parsed
        .iter()
        .flatten()
        .find_map(|p| p.as_ref().ok().copied());
    let name_example = parsed
        .iter()
        .flatten()
        .find_map(|p| p.as_ref().err().copied());
    match (int_example, name_example) {
        (Some(i), Some(s)) => Err(DataError::MixedLabelTypes {
            path: path.to_path_buf(),
            column: name.to_string(),
            int_example: i.to_string(),
            name_example: s.to_string(),
        }),
        (Some(_), None) => Ok(RawLabels::Ids(
            parsed.into_iter().map(|p| p.and_then(|p| p.ok())).collect(),
        )),
        _ => Ok(RawLabels::Names(values)),
    }
}

/// Files in `dir` with one of `format`'s extensions, sorted by name.
pub(crate) fn files_in_dir(dir: &Path, format: FileFormat) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|e| DataError::io("list", dir, e))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| DataError::io("list", dir, e))?.path();
        if path.is_file() && FileFormat::from_path(&path) == Some(format) {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

pub(crate) fn write_parquet(ds: &TextDataset, path: &Path) -> Result<()> {
    let write_err = |source: Box<dyn std::error::Error + Send + Sync>| DataError::Write {
        path: path.to_path_buf(),
        format: "parquet",
        source,
    };
    let has_rating = ds.iter().any(|r| r.rating.is_some());
    let mut columns = vec![
        Column::new(
            "text".into(),
            ds.iter().map(|r| r.text.as_str()).collect::<Vec<_>>(),
        ),
        Column::new(
            "label".into(),
            ds.iter().map(|r| r.label).collect::<Vec<i64>>(),
        ),
    ];
    if has_rating {
        columns.push(Column::new(
            "rating".into(),
            ds.iter()
                .map(|r| r.rating.map(i64::from))
                .collect::<Vec<Option<i64>>>(),
        ));
    }
    columns.push(Column::new(
        "source_index".into(),
        ds.iter()
            .map(|r| r.source_index as i64)
            .collect::<Vec<i64>>(),
    ));
    let mut df = DataFrame::new_infer_height(columns).map_err(|e| write_err(Box::new(e)))?;
    let file = File::create(path).map_err(|e| DataError::io("create", path, e))?;
    let hf_features = ds.label_map().to_hf_features_json(has_rating);
    let metadata = KeyValueMetadata::from_static(vec![
        (
            "ARROW:schema".to_string(),
            arrow_schema_key(has_rating, &hf_features),
        ),
        ("huggingface".to_string(), hf_features),
    ]);
    ParquetWriter::new(file)
        .with_compression(ParquetCompression::Zstd(None))
        .with_key_value_metadata(Some(metadata))
        .finish(&mut df)
        .map_err(|e| write_err(Box::new(e)))?;
    Ok(())
}

/// The `ARROW:schema` footer entry as pyarrow writes it for IMDB's parquet files: `text` as
/// `string` (polars would declare its internal `string_view`) and the `huggingface` features in
/// the schema metadata, which is where `datasets` looks for the `ClassLabel` names.
fn arrow_schema_key(has_rating: bool, hf_features: &str) -> String {
    use base64::Engine as _;
    use polars_arrow::datatypes::{ArrowDataType, ArrowSchema, Field as ArrowField, Metadata};
    use polars_arrow::io::ipc::write::{default_ipc_fields, schema_to_bytes};

    let mut fields = vec![
        ArrowField::new("text".into(), ArrowDataType::Utf8, true),
        ArrowField::new("label".into(), ArrowDataType::Int64, true),
    ];
    if has_rating {
        fields.push(ArrowField::new("rating".into(), ArrowDataType::Int64, true));
    }
    fields.push(ArrowField::new(
        "source_index".into(),
        ArrowDataType::Int64,
        true,
    ));
    let schema: ArrowSchema = fields.into_iter().map(|f| (f.name.clone(), f)).collect();
    let mut metadata = Metadata::new();
    metadata.insert("huggingface".into(), hf_features.into());
    let bytes = schema_to_bytes(
        &schema,
        &default_ipc_fields(schema.iter_values()),
        Some(&metadata),
    );
    // Arrow's legacy IPC framing: continuation marker, little-endian length, message.
    let mut framed = Vec::with_capacity(bytes.len() + 8);
    framed.extend_from_slice(&[0xff; 4]);
    framed.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    framed.extend_from_slice(&bytes);
    base64::engine::general_purpose::STANDARD.encode(framed)
}

pub(crate) fn write_jsonl(ds: &TextDataset, path: &Path) -> Result<()> {
    let file = File::create(path).map_err(|e| DataError::io("create", path, e))?;
    let mut out = BufWriter::new(file);
    for row in ds.iter() {
        // Written by hand to keep the key order text, label[, rating], source_index.
        let text = serde_json::to_string(&row.text).map_err(|e| DataError::Io {
            action: "write",
            path: path.to_path_buf(),
            source: e.into(),
        })?;
        let rating = row
            .rating
            .map(|r| format!(",\"rating\":{r}"))
            .unwrap_or_default();
        writeln!(
            out,
            "{{\"text\":{text},\"label\":{}{rating},\"source_index\":{}}}",
            row.label, row.source_index
        )
        .map_err(|e| DataError::io("write", path, e))?;
    }
    out.flush().map_err(|e| DataError::io("write", path, e))
}
