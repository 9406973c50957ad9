//! Classification metrics computed the way scikit-learn computes them.
//!
//! Everything here works on plain slices (true labels, predicted labels, per-class
//! probabilities), so it can score predictions from anywhere. Each function names the
//! scikit-learn function it reproduces; the tests compare against values scikit-learn produced
//! (`tests/fixtures/metrics/`) to 1e-9.

use serde::{Deserialize, Serialize};

/// Counts `matrix[true][pred]`, labels `0..num_labels` (sklearn's `confusion_matrix`).
pub fn confusion_matrix(y_true: &[usize], y_pred: &[usize], num_labels: usize) -> Vec<Vec<u64>> {
    let mut matrix = vec![vec![0u64; num_labels]; num_labels];
    for (&t, &p) in y_true.iter().zip(y_pred) {
        if t < num_labels && p < num_labels {
            matrix[t][p] += 1;
        }
    }
    matrix
}

/// `num / den`, or 0 when `den` is 0 (sklearn's `zero_division` default).
fn ratio(num: f64, den: f64) -> f64 {
    if den == 0.0 { 0.0 } else { num / den }
}

/// Per-class counts read off a confusion matrix.
#[derive(Debug, Clone, Copy, PartialEq)]
struct ClassCounts {
    tp: f64,
    fp: f64,
    fn_: f64,
    tn: f64,
}

fn class_counts(matrix: &[Vec<u64>], class: usize) -> ClassCounts {
    let total: u64 = matrix.iter().flatten().sum();
    let tp = matrix[class][class];
    let predicted: u64 = matrix.iter().map(|row| row[class]).sum();
    let actual: u64 = matrix[class].iter().sum();
    ClassCounts {
        tp: tp as f64,
        fp: (predicted - tp) as f64,
        fn_: (actual - tp) as f64,
        tn: (total + tp - predicted - actual) as f64,
    }
}

/// Precision, recall, specificity, F1 and support of one class (one-vs-rest).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassMetrics {
    /// `TP / (TP + FP)`.
    pub precision: f64,
    /// `TP / (TP + FN)` (sensitivity).
    pub recall: f64,
    /// `TN / (TN + FP)`.
    pub specificity: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
    /// Number of true instances of the class.
    pub support: u64,
}

/// Per-class metrics for every class of a confusion matrix.
pub fn per_class(matrix: &[Vec<u64>]) -> Vec<ClassMetrics> {
    (0..matrix.len())
        .map(|class| {
            let c = class_counts(matrix, class);
            let precision = ratio(c.tp, c.tp + c.fp);
            let recall = ratio(c.tp, c.tp + c.fn_);
            ClassMetrics {
                precision,
                recall,
                specificity: ratio(c.tn, c.tn + c.fp),
                // sklearn: 2·tp / (2·tp + fp + fn), 0 when undefined.
                f1: ratio(2.0 * c.tp, 2.0 * c.tp + c.fp + c.fn_),
                support: matrix[class].iter().sum(),
            }
        })
        .collect()
}

/// Points of a ROC curve (sklearn's `roc_curve`, `drop_intermediate=True`). The first threshold
/// is `f64::INFINITY`, as in scikit-learn ≥ 1.3 (serialized as `null` in JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RocCurve {
    /// False positive rates, ascending.
    pub fpr: Vec<f64>,
    /// True positive rates, ascending.
    pub tpr: Vec<f64>,
    /// Decreasing score thresholds; `thresholds[0]` is +∞.
    pub thresholds: Vec<f64>,
}

/// The ROC curve of binary `y_true` (`true` = positive) against `scores` (higher = more
/// positive). `None` when either class is absent (the curve is undefined).
pub fn roc_curve(y_true: &[bool], scores: &[f64]) -> Option<RocCurve> {
    let n = y_true.len().min(scores.len());
    // Descending by score; stable mergesort reversed, as sklearn's argsort(kind="mergesort")[::-1].
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    order.reverse();
    let sorted_scores: Vec<f64> = order.iter().map(|&i| scores[i]).collect();
    let sorted_true: Vec<f64> = order
        .iter()
        .map(|&i| f64::from(u8::from(y_true[i])))
        .collect();

    // Indices of the last occurrence of each distinct score, plus the end.
    let mut threshold_idxs: Vec<usize> = (0..n.saturating_sub(1))
        .filter(|&i| sorted_scores[i + 1] != sorted_scores[i])
        .collect();
    threshold_idxs.push(n.checked_sub(1)?);
    let mut cumulative = 0.0;
    let cumsum: Vec<f64> = sorted_true
        .iter()
        .map(|t| {
            cumulative += t;
            cumulative
        })
        .collect();
    let tps: Vec<f64> = threshold_idxs.iter().map(|&i| cumsum[i]).collect();
    let fps: Vec<f64> = threshold_idxs
        .iter()
        .zip(&tps)
        .map(|(&i, tp)| 1.0 + i as f64 - tp)
        .collect();
    let thresholds: Vec<f64> = threshold_idxs.iter().map(|&i| sorted_scores[i]).collect();

    // drop_intermediate: keep the ends and every point where the curve bends.
    let m = tps.len();
    let keep: Vec<usize> = (0..m)
        .filter(|&i| {
            i == 0
                || i == m - 1
                || (fps[i + 1] - 2.0 * fps[i] + fps[i - 1]) != 0.0
                || (tps[i + 1] - 2.0 * tps[i] + tps[i - 1]) != 0.0
        })
        .collect();
    let (last_tp, last_fp) = (tps[m - 1], fps[m - 1]);
    if last_tp == 0.0 || last_fp == 0.0 {
        return None;
    }
    let mut curve = RocCurve {
        fpr: vec![0.0],
        tpr: vec![0.0],
        thresholds: vec![f64::INFINITY],
    };
    for i in keep {
        curve.fpr.push(fps[i] / last_fp);
        curve.tpr.push(tps[i] / last_tp);
        curve.thresholds.push(thresholds[i]);
    }
    Some(curve)
}

/// Area under a curve by the trapezoidal rule (sklearn's `auc`, x ascending).
pub fn auc(x: &[f64], y: &[f64]) -> f64 {
    x.windows(2)
        .zip(y.windows(2))
        .map(|(xs, ys)| (xs[1] - xs[0]) * (ys[1] + ys[0]) / 2.0)
        .sum()
}

/// sklearn's `log_loss`: mean of `-ln p[true]`, probabilities clipped to `[eps, 1 - eps]` with
/// `eps` = f64 machine epsilon.
pub fn log_loss(y_true: &[usize], probabilities: &[Vec<f64>]) -> f64 {
    let eps = f64::EPSILON;
    let total: f64 = y_true
        .iter()
        .zip(probabilities)
        .map(|(&t, p)| {
            let sum: f64 = p.iter().sum();
            -(p[t] / sum).clamp(eps, 1.0 - eps).ln()
        })
        .sum();
    total / y_true.len() as f64
}

/// The evaluation report of a classifier: every metric a practitioner asks for.
///
/// For two labels, `precision`, `recall`, `specificity` and `f1` are those of the positive class
/// (label 1, sklearn's `pos_label=1`), and `roc_auc` is the binary AUC of its probability. For more
/// labels they are macro averages (`*_weighted` are support-weighted) and `roc_auc` is the
/// one-vs-rest macro AUC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassificationReport {
    /// Number of examples scored.
    pub samples: usize,
    /// Fraction predicted correctly.
    pub accuracy: f64,
    /// Precision (positive class, or macro).
    pub precision: f64,
    /// Recall (positive class, or macro).
    pub recall: f64,
    /// Specificity (positive class, or macro).
    pub specificity: f64,
    /// F1 (positive class, or macro).
    pub f1: f64,
    /// Support-weighted precision.
    pub precision_weighted: f64,
    /// Support-weighted recall.
    pub recall_weighted: f64,
    /// Support-weighted F1.
    pub f1_weighted: f64,
    /// ROC AUC (binary, or one-vs-rest macro); `None` when a class is absent from `y_true`.
    pub roc_auc: Option<f64>,
    /// Log-loss of the probabilities.
    pub log_loss: f64,
    /// `confusion_matrix[true][predicted]`.
    pub confusion_matrix: Vec<Vec<u64>>,
    /// Metrics of each class, one-vs-rest.
    pub per_class: Vec<ClassMetrics>,
    /// ROC curve of the positive class (binary only).
    pub roc_curve: Option<RocCurve>,
}

impl ClassificationReport {
    /// Scores `probabilities[i][c]` (rows sum to 1) against `y_true`; predictions are the argmax.
    ///
    /// Returns `None` for an empty input or fewer than two labels.
    pub fn new(y_true: &[usize], probabilities: &[Vec<f64>]) -> Option<Self> {
        let num_labels = probabilities.first()?.len();
        if num_labels < 2 || y_true.is_empty() || y_true.len() != probabilities.len() {
            return None;
        }
        let y_pred: Vec<usize> = probabilities.iter().map(|p| argmax(p)).collect();
        let matrix = confusion_matrix(y_true, &y_pred, num_labels);
        let classes = per_class(&matrix);
        let n = y_true.len() as f64;
        let correct: u64 = (0..num_labels).map(|c| matrix[c][c]).sum();
        let weighted = |f: fn(&ClassMetrics) -> f64| {
            classes.iter().map(|c| f(c) * c.support as f64).sum::<f64>() / n
        };
        let macro_avg =
            |f: fn(&ClassMetrics) -> f64| classes.iter().map(f).sum::<f64>() / num_labels as f64;
        let score_of =
            |class: usize| -> Vec<f64> { probabilities.iter().map(|p| p[class]).collect() };
        let is_class = |class: usize| -> Vec<bool> { y_true.iter().map(|&t| t == class).collect() };

        let (precision, recall, specificity, f1, roc_curve, roc_auc) = if num_labels == 2 {
            let curve = roc_curve(&is_class(1), &score_of(1));
            let area = curve.as_ref().map(|c| auc(&c.fpr, &c.tpr));
            let positive = &classes[1];
            (
                positive.precision,
                positive.recall,
                positive.specificity,
                positive.f1,
                curve,
                area,
            )
        } else {
            let areas: Option<Vec<f64>> = (0..num_labels)
                .map(|c| roc_curve(&is_class(c), &score_of(c)).map(|r| auc(&r.fpr, &r.tpr)))
                .collect();
            (
                macro_avg(|c| c.precision),
                macro_avg(|c| c.recall),
                macro_avg(|c| c.specificity),
                macro_avg(|c| c.f1),
                None,
                areas.map(|a| a.iter().sum::<f64>() / num_labels as f64),
            )
        };
        Some(Self {
            samples: y_true.len(),
            accuracy: correct as f64 / n,
            precision,
            recall,
            specificity,
            f1,
            precision_weighted: weighted(|c| c.precision),
            recall_weighted: weighted(|c| c.recall),
            f1_weighted: weighted(|c| c.f1),
            roc_auc,
            log_loss: log_loss(y_true, probabilities),
            confusion_matrix: matrix,
            per_class: classes,
            roc_curve,
        })
    }

    /// A readable table: headline metrics, per-class metrics and the confusion matrix.
    pub fn table(&self, labels: &[String]) -> String {
        use std::fmt::Write;
        let name = |i: usize| labels.get(i).cloned().unwrap_or_else(|| i.to_string());
        let mut out = String::new();
        let auc = self
            .roc_auc
            .map(|a| format!("{a:.4}"))
            .unwrap_or_else(|| "n/a".to_string());
        let _ = writeln!(
            out,
            "accuracy {:.4}  precision {:.4}  recall {:.4}  specificity {:.4}  f1 {:.4}  roc_auc {auc}  (n = {})",
            self.accuracy, self.precision, self.recall, self.specificity, self.f1, self.samples
        );
        let width = (0..self.per_class.len())
            .map(|i| name(i).len())
            .max()
            .unwrap_or(5)
            .max(9);
        let _ = writeln!(
            out,
            "{:>width$}  precision  recall  specificity      f1  support",
            "label"
        );
        for (i, c) in self.per_class.iter().enumerate() {
            let _ = writeln!(
                out,
                "{:>width$}  {:>9.4}  {:>6.4}  {:>11.4}  {:>6.4}  {:>7}",
                name(i),
                c.precision,
                c.recall,
                c.specificity,
                c.f1,
                c.support
            );
        }
        let _ = writeln!(out, "confusion matrix (rows: true, columns: predicted)");
        let _ = write!(out, "{:>width$}", "");
        for i in 0..self.confusion_matrix.len() {
            let _ = write!(out, "  {:>width$}", name(i));
        }
        let _ = writeln!(out);
        for (i, row) in self.confusion_matrix.iter().enumerate() {
            let _ = write!(out, "{:>width$}", name(i));
            for count in row {
                let _ = write!(out, "  {count:>width$}");
            }
            let _ = writeln!(out);
        }
        out
    }
}

/// Index of the largest value (the first on ties, like numpy's `argmax`).
pub fn argmax(values: &[f64]) -> usize {
    values
        .iter()
        .enumerate()
        .fold((0, f64::NEG_INFINITY), |(best, best_v), (i, &v)| {
            if v > best_v { (i, v) } else { (best, best_v) }
        })
        .0
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn binary_counts_and_rates() {
        // TP=3, FN=1, FP=2, TN=4
        let y_true = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0];
        let y_pred = [1, 1, 1, 0, 1, 1, 0, 0, 0, 0];
        let m = confusion_matrix(&y_true, &y_pred, 2);
        assert_eq!(m, vec![vec![4, 2], vec![1, 3]]);
        let c = &per_class(&m)[1];
        assert_eq!(c.precision, 3.0 / 5.0);
        assert_eq!(c.recall, 3.0 / 4.0);
        assert_eq!(c.specificity, 4.0 / 6.0);
        assert!((c.f1 - 2.0 * 0.6 * 0.75 / 1.35).abs() < 1e-15);
    }

    #[test]
    fn perfect_and_inverted_scores_give_auc_one_and_zero() {
        let y = [false, false, true, true];
        let curve = roc_curve(&y, &[0.1, 0.2, 0.8, 0.9]).unwrap();
        assert_eq!(auc(&curve.fpr, &curve.tpr), 1.0);
        let curve = roc_curve(&y, &[0.9, 0.8, 0.2, 0.1]).unwrap();
        assert_eq!(auc(&curve.fpr, &curve.tpr), 0.0);
        assert!(roc_curve(&[true, true], &[0.3, 0.4]).is_none());
    }

    #[test]
    fn zero_division_is_zero() {
        let m = confusion_matrix(&[0, 0], &[0, 0], 2);
        let c = &per_class(&m)[1];
        assert_eq!((c.precision, c.recall, c.f1), (0.0, 0.0, 0.0));
    }
}
