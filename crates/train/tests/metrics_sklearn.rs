//! Metrics against scikit-learn on fixed predictions, to 1e-9.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use bertfit_train::metrics::{
    ClassificationReport, auc, confusion_matrix, log_loss, per_class, roc_curve,
};
use serde_json::Value;

const TOL: f64 = 1e-9;

fn load(name: &str) -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(common::fixture(&format!("metrics/{name}"))).unwrap(),
    )
    .unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| match x {
            Value::String(s) if s == "inf" => f64::INFINITY,
            other => other.as_f64().unwrap(),
        })
        .collect()
}

fn ints(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect()
}

fn close(a: f64, b: f64, what: &str) {
    assert!((a - b).abs() < TOL || a == b, "{what}: {a} vs sklearn {b}");
}

fn close_all(a: &[f64], b: &[f64], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (x, y) in a.iter().zip(b) {
        close(*x, *y, what);
    }
}

fn matrix(v: &Value) -> Vec<Vec<u64>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| ints(r).into_iter().map(|x| x as u64).collect())
        .collect()
}

#[test]
fn binary_metrics_match_sklearn() {
    let f = load("binary.json");
    let (inputs, out) = (&f["inputs"], &f["outputs"]);
    let y_true = ints(&inputs["y_true"]);
    let y_pred = ints(&inputs["y_pred"]);
    let scores = floats(&inputs["y_score"]);

    let m = confusion_matrix(&y_true, &y_pred, 2);
    assert_eq!(m, matrix(&out["confusion_matrix"]));
    let positive = &per_class(&m)[1];
    close(
        positive.precision,
        out["precision"].as_f64().unwrap(),
        "precision",
    );
    close(positive.recall, out["recall"].as_f64().unwrap(), "recall");
    close(positive.f1, out["f1"].as_f64().unwrap(), "f1");
    close(
        positive.specificity,
        out["specificity"].as_f64().unwrap(),
        "specificity",
    );

    let positives: Vec<bool> = y_true.iter().map(|&t| t == 1).collect();
    let curve = roc_curve(&positives, &scores).unwrap();
    close_all(&curve.fpr, &floats(&out["roc_curve"]["fpr"]), "fpr");
    close_all(&curve.tpr, &floats(&out["roc_curve"]["tpr"]), "tpr");
    close_all(
        &curve.thresholds,
        &floats(&out["roc_curve"]["thresholds"]),
        "thresholds",
    );
    close(
        auc(&curve.fpr, &curve.tpr),
        out["roc_auc"].as_f64().unwrap(),
        "roc_auc",
    );

    let probabilities: Vec<Vec<f64>> = scores.iter().map(|&s| vec![1.0 - s, s]).collect();
    close(
        log_loss(&y_true, &probabilities),
        out["log_loss"].as_f64().unwrap(),
        "log_loss",
    );

    // The report predicts by argmax (ties to the lower label) where the fixture's y_pred is
    // `score >= 0.5`; the fixture has scores of exactly 0.5, so only threshold-free values are
    // compared here (the counts-based ones are checked above through the same functions).
    let report = ClassificationReport::new(&y_true, &probabilities).unwrap();
    close(
        report.roc_auc.unwrap(),
        out["roc_auc"].as_f64().unwrap(),
        "report roc_auc",
    );
    close(
        report.log_loss,
        out["log_loss"].as_f64().unwrap(),
        "report log_loss",
    );
}

#[test]
fn multiclass_metrics_match_sklearn() {
    let f = load("multiclass.json");
    let (inputs, out) = (&f["inputs"], &f["outputs"]);
    let y_true = ints(&inputs["y_true"]);
    let y_pred = ints(&inputs["y_pred"]);
    let proba: Vec<Vec<f64>> = inputs["proba"]
        .as_array()
        .unwrap()
        .iter()
        .map(floats)
        .collect();

    let m = confusion_matrix(&y_true, &y_pred, 3);
    assert_eq!(m, matrix(&out["confusion_matrix"]));
    let classes = per_class(&m);
    let col = |f: fn(&bertfit_train::metrics::ClassMetrics) -> f64| {
        classes.iter().map(f).collect::<Vec<f64>>()
    };
    close_all(
        &col(|c| c.precision),
        &floats(&out["precision_per_class"]),
        "precision per class",
    );
    close_all(
        &col(|c| c.recall),
        &floats(&out["recall_per_class"]),
        "recall per class",
    );
    close_all(
        &col(|c| c.f1),
        &floats(&out["f1_per_class"]),
        "f1 per class",
    );
    close_all(
        &col(|c| c.specificity),
        &floats(&out["specificity_per_class"]),
        "specificity per class",
    );

    let areas: Vec<f64> = (0..3)
        .map(|c| {
            let positives: Vec<bool> = y_true.iter().map(|&t| t == c).collect();
            let scores: Vec<f64> = proba.iter().map(|p| p[c]).collect();
            let curve = roc_curve(&positives, &scores).unwrap();
            let expected = &out["roc_curve_ovr_per_class"][c];
            close_all(&curve.fpr, &floats(&expected["fpr"]), "ovr fpr");
            close_all(&curve.tpr, &floats(&expected["tpr"]), "ovr tpr");
            auc(&curve.fpr, &curve.tpr)
        })
        .collect();
    close_all(
        &areas,
        &floats(&out["roc_auc_ovr_per_class"]),
        "ovr auc per class",
    );
    close(
        log_loss(&y_true, &proba),
        out["log_loss"].as_f64().unwrap(),
        "log_loss",
    );

    let report = ClassificationReport::new(&y_true, &proba).unwrap();
    close(
        report.roc_auc.unwrap(),
        out["roc_auc_ovr_macro"].as_f64().unwrap(),
        "ovr macro auc",
    );
    // The fixture's predictions are the argmax of its probabilities.
    assert!(
        proba
            .iter()
            .zip(&y_pred)
            .all(|(p, &y)| bertfit_train::metrics::argmax(p) == y)
    );
    {
        close(
            report.precision,
            out["precision_macro"].as_f64().unwrap(),
            "precision macro",
        );
        close(
            report.recall,
            out["recall_macro"].as_f64().unwrap(),
            "recall macro",
        );
        close(report.f1, out["f1_macro"].as_f64().unwrap(), "f1 macro");
        close(
            report.f1_weighted,
            out["f1_weighted"].as_f64().unwrap(),
            "f1 weighted",
        );
        close(
            report.precision_weighted,
            out["precision_weighted"].as_f64().unwrap(),
            "precision weighted",
        );
        close(
            report.specificity,
            out["specificity_macro"].as_f64().unwrap(),
            "specificity macro",
        );
        close(
            report.accuracy,
            out["accuracy"].as_f64().unwrap(),
            "accuracy",
        );
        assert_eq!(report.confusion_matrix, matrix(&out["confusion_matrix"]));
    }
}
