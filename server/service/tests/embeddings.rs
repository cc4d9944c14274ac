//! The local embedding model against reference vectors computed by sentence-transformers
//! (see scripts/reference-embeddings.py for how): the same model must give the same
//! vectors, within float noise, batched or one at a time.

use service::memories::embeddings::{LOCAL_DIMENSION, LocalModel, local_model_dir};

fn dot(a: &[f32], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| f64::from(*x) * y).sum()
}

#[test]
fn the_local_model_matches_sentence_transformers() {
    let dir = local_model_dir();
    let model = LocalModel::load(&dir).unwrap_or_else(|e| {
        panic!(
            "{e:?}: the model is installed by `make deps` into {}",
            dir.display()
        )
    });
    let reference: serde_json::Value =
        serde_json::from_str(include_str!("data/minilm_reference.json")).unwrap();
    let items = reference["items"].as_array().unwrap();
    let texts: Vec<&str> = items.iter().map(|i| i["text"].as_str().unwrap()).collect();
    let wanted: Vec<Vec<f64>> = items
        .iter()
        .map(|i| {
            i["embedding"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect()
        })
        .collect();

    // One batch: texts of very different lengths, so padding is exercised.
    let batch = model.embed(&texts).unwrap();
    assert_eq!(batch.len(), texts.len());
    for ((text, got), want) in texts.iter().zip(&batch).zip(&wanted) {
        assert_eq!(got.len(), LOCAL_DIMENSION);
        let norm: f32 = got.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "not normalized: {norm}");
        let cosine = dot(got, want);
        assert!(
            cosine >= 0.999,
            "cosine {cosine} against the reference for {text:?}"
        );
    }

    // Alone, each text gets the vector it got in the batch.
    for (text, in_batch) in texts.iter().zip(&batch) {
        let alone = model.embed(&[text]).unwrap().remove(0);
        let cosine: f32 = alone.iter().zip(in_batch).map(|(a, b)| a * b).sum();
        assert!(cosine >= 0.9999, "batching changed {text:?}: {cosine}");
    }
    assert!(model.embed(&[]).unwrap().is_empty());
}
