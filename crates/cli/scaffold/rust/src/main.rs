//! KIND_NAME: how many lines of a text file contain a word. Replace the body with your own work;
//! keep the ports and params in step with plugin.yaml.

use std::process::ExitCode;

use flow_plugin_sdk::Request;

/// The node's `with:` values (plugin.yaml declares them, with their defaults).
#[derive(serde::Deserialize)]
struct Params {
    word: String,
}

fn main() -> ExitCode {
    flow_plugin_sdk::run(|request: &Request| {
        let params: Params = request.params()?;
        let text = std::fs::read_to_string(request.input("text")?)?;
        let lines = text.lines().filter(|line| line.contains(&params.word)).count();
        std::fs::write(request.output("counts")?, format!("word,lines\n{},{lines}\n", params.word))?;
        // Anything printed goes to the node's log (`flow log NODE`).
        println!("{lines} of {} lines contain '{}'", text.lines().count(), params.word);
        Ok(())
    })
}
