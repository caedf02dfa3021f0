//! Prints the features of one image and mask as a JSON object `{"original_...": value}`, for
//! comparing with pyradiomics by hand (see docs/radiomics.md).
//!
//! cargo run --release -p flow-radiomics --example features_json -- IMAGE MASK [BIN_WIDTH] [LABEL]

use std::path::Path;
use std::process::ExitCode;

use flow_radiomics::Settings;
use flow_radiomics::cohort::read_case;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(image), Some(mask)) = (args.first(), args.get(1)) else {
        eprintln!("usage: features_json IMAGE MASK [BIN_WIDTH] [LABEL]");
        return ExitCode::from(2);
    };
    let mut settings = Settings::default();
    if let Some(width) = args.get(2) {
        match width.parse() {
            Ok(w) => settings.bin_width = w,
            Err(_) => {
                eprintln!("BIN_WIDTH `{width}` is not a number");
                return ExitCode::from(2);
            }
        }
    }
    if let Some(label) = args.get(3) {
        match label.parse() {
            Ok(l) => settings.label = l,
            Err(_) => {
                eprintln!("LABEL `{label}` is not an integer");
                return ExitCode::from(2);
            }
        }
    }
    let features = read_case(Path::new(image), Path::new(mask))
        .map_err(|e| e.to_string())
        .and_then(|(image, mask)| flow_radiomics::extract(&image, &mask, &settings).map_err(|e| e.to_string()));
    match features {
        Ok(features) => {
            let body: Vec<String> = features
                .iter()
                .map(|f| {
                    let value = if f.value.is_finite() { format!("{:?}", f.value) } else { "null".into() };
                    format!("  \"{}\": {value}", f.full_name())
                })
                .collect();
            println!("{{\n{}\n}}", body.join(",\n"));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
