//! A model as a server scores with it: one feature set's fitted scaler, PCA and boosted trees
//! in one file, plus the feature group each input feature is read from.
//!
//! Scoring applies the same three transforms, in the same code, as the workflow's `ml.scale`,
//! `ml.pca` and `ml.predict` nodes, so a bundle's probability for a row is the workflow's.

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::gbdt::{Gbdt, GbdtError};
use crate::pca::{Pca, PcaError};
use crate::scale::{ScaleError, StandardScaler};

/// The file format's name and version, the first field of every bundle.
pub const FORMAT: &str = "flow-model-bundle/1";

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("not a model bundle: {0}")]
    Format(String),
    #[error("the parts do not fit together: {0}")]
    Mismatch(String),
    #[error(transparent)]
    Scale(#[from] ScaleError),
    #[error(transparent)]
    Pca(#[from] PcaError),
    #[error(transparent)]
    Gbdt(#[from] GbdtError),
}

/// Where one input feature is read from: a column of the same name in a feature group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureSource {
    pub feature: String,
    pub group: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BundleFile {
    format: String,
    name: String,
    sources: Vec<FeatureSource>,
    scaler: StandardScaler,
    pca: Pca,
    /// The trees in XGBoost's JSON model format.
    xgboost: Value,
}

#[derive(Clone, Debug)]
pub struct ModelBundle {
    name: String,
    sources: Vec<FeatureSource>,
    scaler: StandardScaler,
    pca: Pca,
    gbdt: Gbdt,
}

impl ModelBundle {
    /// Checks that the parts chain: the scaler's features are the PCA's, the PCA's components
    /// are the trees' features, and each feature has one source (empty: no feature store).
    pub fn new(
        name: &str,
        sources: Vec<FeatureSource>,
        scaler: StandardScaler,
        pca: Pca,
        gbdt: Gbdt,
    ) -> Result<ModelBundle, BundleError> {
        let mismatch = |m: String| Err(BundleError::Mismatch(m));
        if scaler.feature_names() != pca.feature_names() {
            return mismatch(format!(
                "the scaler has {} features and the PCA {}, or they differ in name or order",
                scaler.feature_names().len(),
                pca.feature_names().len()
            ));
        }
        if gbdt.n_features() != pca.n_components() {
            return mismatch(format!(
                "the trees take {} features; the PCA gives {} components",
                gbdt.n_features(),
                pca.n_components()
            ));
        }
        if !sources.is_empty() {
            let named: Vec<&String> = sources.iter().map(|s| &s.feature).collect();
            let wanted: Vec<&String> = scaler.feature_names().iter().collect();
            if named != wanted {
                return mismatch("the feature sources are not the scaler's features, in order".to_string());
            }
        }
        Ok(ModelBundle { name: name.to_string(), sources, scaler, pca, gbdt })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The input features, in the order [`predict`](Self::predict) takes them.
    pub fn feature_names(&self) -> &[String] {
        self.scaler.feature_names()
    }

    /// Where each input feature is read from (empty if the bundle was made without groups).
    pub fn sources(&self) -> &[FeatureSource] {
        &self.sources
    }

    pub fn n_components(&self) -> usize {
        self.pca.n_components()
    }

    pub fn n_trees(&self) -> usize {
        self.gbdt.n_trees()
    }

    /// The probability of label 1 for each row (rows x [`feature_names`](Self::feature_names)).
    pub fn predict(&self, x: ArrayView2<f64>) -> Result<Vec<f64>, BundleError> {
        let scaled = self.scaler.transform_matrix(x)?;
        let scores = self.pca.transform_matrix(scaled.view())?;
        Ok(self.gbdt.predict_proba(&scores)?)
    }

    /// The bundle as JSON; the same bundle gives the same bytes.
    pub fn to_json(&self) -> Result<String, BundleError> {
        let xgboost: Value = serde_json::from_str(&self.gbdt.to_xgboost_json())
            .map_err(|e| BundleError::Format(format!("the trees as XGBoost JSON: {e}")))?;
        let file = BundleFile {
            format: FORMAT.to_string(),
            name: self.name.clone(),
            sources: self.sources.clone(),
            scaler: self.scaler.clone(),
            pca: self.pca.clone(),
            xgboost,
        };
        serde_json::to_string(&file).map_err(|e| BundleError::Format(e.to_string()))
    }

    pub fn from_json(text: &str) -> Result<ModelBundle, BundleError> {
        let format = serde_json::from_str::<Value>(text)
            .map_err(|e| BundleError::Format(e.to_string()))?
            .get("format")
            .and_then(Value::as_str)
            .map(str::to_string);
        if format.as_deref() != Some(FORMAT) {
            return Err(BundleError::Format(format!(
                "its format is {}, this flow reads {FORMAT}",
                format.map_or("missing".to_string(), |f| format!("'{f}'"))
            )));
        }
        let file: BundleFile = serde_json::from_str(text).map_err(|e| BundleError::Format(e.to_string()))?;
        let gbdt = Gbdt::from_xgboost_json(&file.xgboost.to_string())?;
        ModelBundle::new(&file.name, file.sources, file.scaler, file.pca, gbdt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Dataset;
    use crate::gbdt::GbdtParams;
    use crate::pca::Components;
    use ndarray::Array2;

    fn data() -> Dataset {
        let rows = 40;
        let x = Array2::from_shape_fn((rows, 3), |(r, c)| ((r * 7 + c * 13) % 17) as f64 + c as f64 * 0.5);
        let y = (0..rows).map(|r| f64::from(u8::from(x[(r, 0)] + x[(r, 2)] > 17.0))).collect();
        let ids = (0..rows).map(|r| format!("P{r}")).collect();
        Dataset::new(ids, vec!["a".into(), "b".into(), "c".into()], x, y).unwrap()
    }

    fn trained() -> (ModelBundle, Dataset) {
        let train = data();
        let scaler = StandardScaler::fit(&train).unwrap();
        let scaled = scaler.transform(&train).unwrap();
        let pca = Pca::fit(&scaled, Components::VarianceTarget(0.99)).unwrap();
        let scores = pca.transform(&scaled).unwrap();
        let params = GbdtParams { n_estimators: 5, ..GbdtParams::default() };
        let gbdt = Gbdt::fit(&scores, &params, 1).unwrap();
        let sources = ["a", "b", "c"].map(|f| FeatureSource { feature: f.into(), group: "g".into() }).to_vec();
        (ModelBundle::new("m", sources, scaler, pca, gbdt).unwrap(), train)
    }

    #[test]
    fn a_bundle_scores_as_the_three_steps_do_and_survives_its_file() {
        let (bundle, train) = trained();
        let stepwise = {
            let scaled = bundle.scaler.transform(&train).unwrap();
            bundle.gbdt.predict_dataset(&bundle.pca.transform(&scaled).unwrap()).unwrap()
        };
        assert_eq!(bundle.predict(train.x.view()).unwrap(), stepwise);
        let text = bundle.to_json().unwrap();
        let again = ModelBundle::from_json(&text).unwrap();
        assert_eq!(again.predict(train.x.view()).unwrap(), stepwise);
        assert_eq!(again.to_json().unwrap(), text, "same bundle, same bytes");
        assert_eq!(again.sources()[2], FeatureSource { feature: "c".into(), group: "g".into() });
    }

    #[test]
    fn parts_that_do_not_chain_are_refused() {
        let (bundle, _) = trained();
        let wrong = vec![FeatureSource { feature: "a".into(), group: "g".into() }];
        let error = ModelBundle::new("m", wrong, bundle.scaler.clone(), bundle.pca.clone(), bundle.gbdt.clone());
        assert!(matches!(error, Err(BundleError::Mismatch(_))));
        assert!(
            ModelBundle::from_json(r#"{"format": "something/2"}"#).unwrap_err().to_string().contains("something/2")
        );
    }
}
