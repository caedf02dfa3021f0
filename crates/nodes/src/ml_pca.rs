//! `ml.pca`: principal components fitted on the training part (exact SVD, the smallest number
//! of components reaching a variance target, the seed's 0.99), applied to all three parts. The
//! work is in `flow_ml::pca`.

use flow_engine::kind::{
    Configured, Inputs, KindInfo, NodeContext, NodeError, NodeKind, Outputs, ParamDoc, ParamError, PortSpec, PortType,
    typed_params,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ml_table::{read_dataset, transform_parts};
use flow_ml::pca::{Components, Pca};

pub struct MlPca;

/// The `pca` output: the fitted PCA plus what the report draws and the PCA itself does not keep.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PcaOutput {
    /// The variance target that chose the number of components, when one did.
    pub variance_target: Option<f64>,
    /// The explained variance ratio of every component, kept or not (the curve past k).
    pub all_explained_variance_ratio: Vec<f64>,
    pub pca: Pca,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default = "super::ml_table::default_id")]
    id_column: String,
    #[serde(default = "super::ml_table::default_label")]
    label: String,
    /// Keep the fewest components explaining more than this share of the variance...
    #[serde(default)]
    variance: Option<f64>,
    /// ...or exactly this many.
    #[serde(default)]
    components: Option<usize>,
}

impl Params {
    fn components(&self) -> Result<Components, ParamError> {
        match (self.variance, self.components) {
            (Some(_), Some(_)) => {
                Err(ParamError::new(Some("components"), "give either variance or components, not both"))
            }
            (None, Some(0)) => Err(ParamError::new(Some("components"), "components must be at least 1")),
            (None, Some(n)) => Ok(Components::Count(n)),
            (Some(v), None) if !(v > 0.0 && v < 1.0) => {
                Err(ParamError::new(Some("variance"), format!("variance is {v}: use a share in (0, 1), e.g. 0.99")))
            }
            (Some(v), None) => Ok(Components::VarianceTarget(v)),
            (None, None) => Ok(Components::VarianceTarget(0.99)),
        }
    }
}

impl NodeKind for MlPca {
    fn name(&self) -> &str {
        "ml.pca"
    }

    fn version(&self) -> &str {
        "1"
    }

    fn info(&self) -> KindInfo {
        let part = |name: &str, doc: &str| PortSpec::new(name, PortType::file("parquet"), doc);
        let mut params = super::ml_table::id_label_docs();
        params.push(ParamDoc::optional(
            "variance",
            "number",
            "0.99",
            "keep the fewest components explaining this share",
        ));
        params.push(ParamDoc::optional("components", "integer", "-", "or keep exactly this many"));
        KindInfo {
            summary: "PCA fitted on the training part by an exact SVD; scores PC1..PCk for all parts".into(),
            inputs: Inputs::Fixed(vec![
                part("train", "the rows PCA is fitted on (scaled)"),
                part("validation", "projected on the training components"),
                part("test", "projected on the training components"),
            ]),
            outputs: Outputs::Fixed(vec![
                part("train", "id, label, PC1..PCk"),
                part("validation", "id, label, PC1..PCk"),
                part("test", "id, label, PC1..PCk"),
                PortSpec::new("pca", PortType::file("json"), "components, explained variance (ratios), feature names"),
            ]),
            params,
        }
    }

    fn configure(&self, params: &Value, _bound: &[&str]) -> Result<Configured, ParamError> {
        let (typed, canonical) = typed_params::<Params>(params)?;
        typed.components()?;
        Ok(self.info().configured(canonical))
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<(), NodeError> {
        let p: Params = ctx.params()?;
        let components = p.components().map_err(|e| NodeError::Failed(e.message))?;
        let train = read_dataset(ctx.input("train")?, &p.id_column, &p.label)?;
        let pca = Pca::fit(&train, components).map_err(|e| NodeError::Failed(format!("PCA on train: {e}")))?;
        let ratio = pca.explained_variance_ratio();
        ctx.log(&format!(
            "{} features -> {} components explaining {:.4} of the variance ({} training rows)",
            train.n_features(),
            pca.n_components(),
            ratio.sum(),
            train.n_samples()
        ))?;
        transform_parts(ctx, &p.id_column, &p.label, &train, |data| pca.transform(data).map_err(|e| e.to_string()))?;
        let all = Pca::fit(&train, Components::Count(train.n_samples().min(train.n_features())))
            .map_err(|e| NodeError::Failed(format!("PCA on train: {e}")))?;
        let variance_target = match components {
            Components::VarianceTarget(target) => Some(target),
            Components::Count(_) => None,
        };
        let output =
            PcaOutput { variance_target, all_explained_variance_ratio: all.explained_variance_ratio().to_vec(), pca };
        super::ml_table::write_json(&output, ctx.output("pca")?)
    }
}
