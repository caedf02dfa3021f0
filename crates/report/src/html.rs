//! The self-contained HTML page: inline CSS, the figures as inline SVG, no scripts and no
//! external references (not even the SVG namespace URL, which HTML does not need).

use std::fmt::Write;

use crate::check::Checked;
use crate::figure::Drawn;
use crate::figures::{dag, heatmap, table as table_figure};
use crate::style::{escape, hex, percent};
use crate::table::{metrics_table, ranking_note};

const CSS: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;color:#222;\
margin:0 auto;max-width:1180px;padding:24px 28px 48px;line-height:1.45}\
h1{font-size:1.7em;margin:0 0 .3em}h2{font-size:1.25em;margin:2em 0 .6em;border-bottom:1px solid #ddd;padding-bottom:.2em}\
.lede{color:#555;margin:.2em 0}nav{margin:1em 0;font-size:.95em}nav a{margin-right:1.1em;color:#0072b2}\
table{border-collapse:collapse;font-variant-numeric:tabular-nums;margin:.4em 0}\
th,td{padding:.35em .9em;text-align:right}.l{text-align:left}\
thead th{border-top:2px solid #222;border-bottom:1px solid #222}tbody tr:last-child td{border-bottom:2px solid #222}\
tr.first td{border-top:1px solid #ccc}td.baseline{color:#666}\
.swatch{display:inline-block;width:.8em;height:.8em;margin-right:.45em;vertical-align:-.05em;border-radius:2px}\
.note,figcaption{color:#555;font-size:.92em}figure{margin:1em 0 2em}\
figure svg{max-width:100%;height:auto;display:block}\
details{margin:.5em 0}summary{cursor:pointer;color:#0072b2}\
tr.this td{font-weight:bold}.ci{color:#666;font-size:.8em;white-space:nowrap}\
footer{margin-top:3em;color:#777;font-size:.85em}";

/// The page. `figures` are the drawn figures in page order.
pub(crate) fn page(checked: &Checked, figures: &[Drawn]) -> String {
    let input = checked.input;
    let title = escape(&input.title);
    let mut out = String::new();
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(out, "<title>{title}</title>\n<style>{CSS}</style>\n</head>\n<body>");
    let _ = writeln!(out, "<header>\n<h1>{title}</h1>");
    let names: Vec<String> = input.feature_sets.iter().map(|set| escape(&set.name)).collect();
    let _ = write!(
        out,
        "<p class=\"lede\">{} feature sets ({}); model: {}",
        names.len(),
        names.join(", "),
        escape(&input.model_label)
    );
    if input.feature_sets.iter().any(|set| set.baseline.is_some()) {
        let _ = write!(out, ", baseline: {}", escape(&input.baseline_label));
    }
    out.push_str(".</p>\n");
    if let Some((set, pca)) = checked.pca {
        let reached: f64 = pca.explained_variance_ratio[..pca.n_components].iter().sum();
        let _ = writeln!(
            out,
            "<p class=\"lede\">PCA figures: {}, {} features, k = {} components for {} of the variance (target {}).</p>",
            escape(&set.name),
            pca.features.len(),
            pca.n_components,
            percent(reached),
            percent(pca.variance_target)
        );
    }
    out.push_str("</header>\n<nav>");
    let links = [
        ("metrics", "Metrics", true),
        ("roc", "ROC curves", has(figures, "roc")),
        ("confusion", "Confusion matrices", true),
        ("pca", "PCA", checked.pca.is_some()),
        ("workflow", "Workflow", has(figures, "dag")),
    ];
    for (id, label, shown) in links {
        if shown {
            let _ = write!(out, "<a href=\"#{id}\">{label}</a>");
        }
    }
    out.push_str("</nav>\n");

    // Table 1.
    let _ = writeln!(out, "<section id=\"metrics\">\n<h2>{}</h2>", escape(table_figure::TITLE));
    out.push_str(&metrics_html(checked));
    if let Some(note) = ranking_note(&input.feature_sets) {
        let _ = writeln!(out, "<p class=\"note\">{} Below each value: its 95% confidence interval.</p>", escape(&note));
    }
    let _ = writeln!(
        out,
        "<p class=\"note\">{} n: test patients. Full-precision values and intervals: metrics.csv.</p>",
        escape(table_figure::NOTE)
    );
    out.push_str("</section>\n");

    if let Some(svg) = find(figures, "roc") {
        section(&mut out, "roc", "ROC curves", &[(svg, roc_caption(checked))]);
    }
    if let Some(svg) = find(figures, "confusion") {
        let caption = format!(
            "Rows: true class, columns: predicted class ({} = label 0, {} = label 1). Each cell gives the count and the \
             share of its true class; the shading follows that share.",
            escape(&input.class_names[0]),
            escape(&input.class_names[1])
        );
        section(&mut out, "confusion", "Confusion matrices", &[(svg, caption)]);
    }
    if let Some((set, pca)) = checked.pca {
        let mut panels = Vec::new();
        if let Some(svg) = find(figures, "explained_variance") {
            panels.push((
                svg,
                format!(
                    "Explained variance ratio of each component (bars) and cumulated (line); the PCA keeps the first k = {} \
                     components, the fewest that reach the {} target (dashed).",
                    pca.n_components,
                    percent(pca.variance_target)
                ),
            ));
        }
        if let Some(svg) = find(figures, "pca_heatmap") {
            panels.push((
                svg,
                format!(
                    "Loadings of the {} PCA, features grouped by modality (the strip beside the names). {}: for each \
                     component the absolute loadings are min-max scaled over all features, then multiplied by the \
                     component's explained variance ratio, so later components fade; the sign is the loading's (blue \
                     negative, red positive), so features pulling a component apart are told apart. One scale for all \
                     cells.",
                    escape(&set.name),
                    escape(heatmap::FORMULA)
                ),
            ));
        }
        if let Some(svg) = find(figures, "correlation_circle") {
            panels.push((
                svg,
                format!(
                    "Correlation of each feature with PC{} and PC{}: r = loading \u{00d7} \u{221a}(explained variance ratio \
                     \u{00d7} number of features), exact for standardised features. A feature near the unit circle is well \
                     represented by these two components. Arrows and labels: the {} features farthest from the origin.",
                    input.circle_pcs[0],
                    input.circle_pcs[1],
                    input.top_n.min(pca.features.len())
                ),
            ));
        }
        section(&mut out, "pca", &format!("PCA of the {} features", escape(&set.name)), &panels);
    }
    if let Some(svg) = find(figures, "dag") {
        let mut caption = format!(
            "{}. Layers follow the longest path from the inputs; each box shows a node and its kind, coloured by the \
             kind's family (the part before the dot).",
            escape(&dag::summary(&input.dag, &checked.dag_edges))
        );
        if input.dag.report_node.is_some() {
            caption.push_str(" The heavy outline marks the node that made this report.");
        }
        // Why no statuses or times: see `Dag`. Said here too, so a reader does not look for them.
        caption.push_str(
            " Structure only, no run times or statuses: the report is cached with its inputs and serves every run \
             that reuses it; each run's own timings are in its log and in <code>flow status</code>.",
        );
        section(&mut out, "workflow", "Workflow", &[(svg, caption)]);
        out.push_str(&nodes_html(checked));
    }
    let files: Vec<String> = figures.iter().map(|figure| format!("{}.svg", figure.name)).collect();
    let _ = writeln!(
        out,
        "<footer>flow-report {}. Beside this page: metrics.csv and the figures as {}{}.</footer>\n</body>\n</html>",
        env!("CARGO_PKG_VERSION"),
        files.join(", "),
        if figures.iter().any(|f| f.png.is_some()) { " (and PNG)" } else { "" }
    );
    out
}

fn has(figures: &[Drawn], name: &str) -> bool {
    figures.iter().any(|figure| figure.name == name)
}

fn find<'a>(figures: &'a [Drawn], name: &str) -> Option<&'a str> {
    figures.iter().find(|figure| figure.name == name).map(|figure| figure.svg.as_str())
}

fn section(out: &mut String, id: &str, heading: &str, panels: &[(&str, String)]) {
    let _ = writeln!(out, "<section id=\"{id}\">\n<h2>{heading}</h2>");
    for (svg, caption) in panels {
        let _ = writeln!(out, "<figure>\n{}\n<figcaption>{caption}</figcaption>\n</figure>", inline_svg(svg));
    }
    out.push_str("</section>\n");
}

/// An SVG document as an element of the page: HTML knows the SVG namespace, so the
/// `xmlns` URL goes (the page then names no URL at all).
pub(crate) fn inline_svg(svg: &str) -> String {
    svg.trim().replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1)
}

fn roc_caption(checked: &Checked) -> String {
    let input = checked.input;
    let mut caption = format!("{} solid", escape(&input.model_label));
    if input.feature_sets.iter().any(|set| set.baseline.as_ref().is_some_and(|b| !b.roc.is_empty())) {
        let _ = write!(caption, ", {} dashed", escape(&input.baseline_label));
    }
    caption.push_str("; the grey diagonal is chance. Colours as in every figure: one per feature set.");
    caption
}

fn metrics_html(checked: &Checked) -> String {
    let table = metrics_table(checked);
    let mut out = String::from("<table>\n<thead><tr>");
    for (k, header) in table.header.iter().enumerate() {
        let class = if k < 2 { " class=\"l\"" } else { "" };
        let _ = write!(out, "<th{class}>{header}</th>");
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    let mut i = 0;
    while i < table.rows.len() {
        let set = &table.rows[i].set;
        let span = table.rows[i..].iter().take_while(|row| &row.set == set).count();
        for (k, row) in table.rows[i..i + span].iter().enumerate() {
            out.push_str(if k == 0 { "<tr class=\"first\">" } else { "<tr>" });
            if k == 0 {
                let colour = hex(checked.palette.colour(set));
                let _ = write!(
                    out,
                    "<td class=\"l\" rowspan=\"{span}\"><span class=\"swatch\" style=\"background:{colour}\"></span>{}</td>",
                    escape(set)
                );
            }
            let class = if row.baseline { " class=\"baseline\"" } else { "" };
            let model_class = if row.baseline { " class=\"l baseline\"" } else { " class=\"l\"" };
            let _ = write!(out, "<td{model_class}>{}</td>", escape(&row.model));
            for ((cell, best), interval) in row.cells.iter().zip(&row.best).zip(&row.intervals) {
                let value = if *best { format!("<strong>{cell}</strong>") } else { cell.clone() };
                match interval {
                    Some(range) => {
                        let _ = write!(out, "<td{class}>{value}<br><span class=\"ci\">{range}</span></td>");
                    }
                    None => {
                        let _ = write!(out, "<td{class}>{value}</td>");
                    }
                }
            }
            out.push_str("</tr>\n");
        }
        i += span;
    }
    out.push_str("</tbody>\n</table>\n");
    out
}

fn nodes_html(checked: &Checked) -> String {
    let dag = &checked.input.dag;
    let mut upstream: Vec<Vec<&str>> = vec![Vec::new(); dag.nodes.len()];
    for &(from, to) in &checked.dag_edges {
        upstream[to].push(dag.nodes[from].name.as_str());
    }
    let mut out = format!("<details>\n<summary>All {} nodes</summary>\n<table>\n", dag.nodes.len());
    out.push_str(
        "<thead><tr><th class=\"l\">Node</th><th class=\"l\">Kind</th><th class=\"l\">Takes input from</th></tr></thead>\n<tbody>\n",
    );
    for (node, inputs) in dag.nodes.iter().zip(&upstream) {
        let this = dag.report_node.as_deref() == Some(node.name.as_str());
        let inputs: Vec<String> = inputs.iter().map(|name| escape(name)).collect();
        let _ = writeln!(
            out,
            "<tr{}><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td></tr>",
            if this { " class=\"this\"" } else { "" },
            escape(&node.name),
            escape(&node.kind),
            if inputs.is_empty() { "\u{2013}".to_string() } else { inputs.join(", ") }
        );
    }
    out.push_str("</tbody>\n</table>\n</details>\n");
    out
}
