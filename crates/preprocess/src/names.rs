//! Column names as identifiers: `Weight (lbs)` -> `weight_lbs`, `%GG` -> `pct_gg`,
//! `75 - < 100%` -> `75_lt_100pct`. SQL, Parquet and ML code all accept these unquoted.

/// Lowercase ASCII letters, digits and single underscores; symbols that carry meaning in the
/// TCIA vocabularies (`%`, `<`, `>`, `+`) become words instead of vanishing.
pub fn snake_case(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut pending_sep = false;
    for c in text.trim().chars() {
        let word = match c {
            '%' => Some("pct"),
            '<' => Some("lt"),
            '>' => Some("gt"),
            '+' => Some("plus"),
            _ => None,
        };
        if let Some(word) = word {
            // `%` after a number reads as a suffix (`25%` -> `25pct`), elsewhere as a word.
            let glue = c == '%' && out.chars().last().is_some_and(|l| l.is_ascii_alphanumeric()) && !pending_sep;
            if !glue && !out.is_empty() {
                out.push('_');
            }
            out.push_str(word);
            pending_sep = true;
            continue;
        }
        if c.is_ascii_alphanumeric() {
            if pending_sep && !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
            pending_sep = false;
            out.push(c.to_ascii_lowercase());
        } else {
            pending_sep = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcia_headers_and_values_become_identifiers() {
        assert_eq!(snake_case("Weight (lbs)"), "weight_lbs");
        assert_eq!(snake_case("Histology "), "histology");
        assert_eq!(snake_case("%GG"), "pct_gg");
        assert_eq!(snake_case("75 - < 100%"), "75_lt_100pct");
        assert_eq!(snake_case(">0 - 25%"), "gt_0_25pct");
        assert_eq!(snake_case("Tumor Location (choice=L Lingula)"), "tumor_location_choice_l_lingula");
        assert_eq!(
            snake_case("Pleural invasion (elastic, visceral, or parietal)"),
            "pleural_invasion_elastic_visceral_or_parietal"
        );
        assert_eq!(snake_case("NSCLC NOS (not otherwise specified)"), "nsclc_nos_not_otherwise_specified");
        assert_eq!(snake_case("Time to Death (days)"), "time_to_death_days");
    }
}
