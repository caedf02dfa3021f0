//! `flow exec-job SPEC --outcome FILE`: the worker side of a cluster executor. A batch job runs
//! it on whichever machine the scheduler chose; it loads the workflow the spec names (through
//! the controller's validated-workflow cache when the entry is there), runs the one attempt
//! into the spec's paths and leaves a [`JobOutcome`] for the controller, which alone checks the
//! outputs and moves them into the store.

use flow_engine::cancel::CancelToken;
use flow_engine::executor::{JobOutcome, JobSpec, run_job};
use flow_engine::workflow::LoadOptions;
use flow_engine::workflow::cache;

use crate::CliError;
use crate::args::ExecJobArgs;
use crate::commands::Context;

pub fn exec_job(ctx: &Context, args: &ExecJobArgs) -> Result<(), CliError> {
    let spec = JobSpec::read(&args.spec)
        .map_err(|e| CliError::Usage(format!("cannot read the job spec {}: {e}", args.spec.display())))?;
    let options = LoadOptions {
        registry: &ctx.registry,
        overrides: &spec.overrides,
        project_dir: &spec.project_dir,
        state_dir: &spec.state_dir,
    };
    let cache_dir = spec.state_dir.join(cache::DIR_NAME);
    let loaded = cache::load_cached(&spec.workflow, &options, &cache_dir).map_err(CliError::Input)?;
    let result = run_job(&spec, &loaded.workflow, &CancelToken::new());
    JobOutcome::of(&result)
        .write(&args.outcome)
        .map_err(|e| CliError::Internal(format!("cannot write the job outcome {}: {e}", args.outcome.display())))?;
    match result {
        Ok(()) => Ok(()),
        Err(error) => {
            eprintln!("flow exec-job: node '{}': {error}", spec.node);
            Err(CliError::NodesFailed)
        }
    }
}
