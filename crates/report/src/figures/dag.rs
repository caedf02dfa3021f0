//! The workflow's DAG, drawn top-down in layers (a small Sugiyama layout):
//!
//! 1. layers by longest path from the sources;
//! 2. an edge that spans several layers gets a dummy point in each layer between, so it
//!    is routed around the boxes instead of through them;
//! 3. the order inside each layer comes from barycentre sweeps (down, then up), keeping the
//!    order with the fewest crossings seen;
//! 4. x positions pull each box towards the mean of its neighbours above (then below), with
//!    [`separate`] keeping the layer's order and spacing.
//!
//! Every step breaks ties by input order, so the same DAG always gives the same picture. Boxes
//! show structure only (name, kind, colour by kind family, the report's own node emphasised):
//! never a status or a time, which would differ between the runs that share one cached report.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use crate::figure::{DrawResult, Figure, fill_rect, line, swatch, text};
use crate::input::Dag;
use crate::layout::separate;
use crate::style::{MUTED, Palette, RULE, TEXT, WHITE, bold, font, mix, text_width};

const MARGIN: i32 = 18;
const HEAD: i32 = 94;
const BOX_H: i32 = 44;
const LAYER_GAP: i32 = 50;
const GAP: f64 = 26.0;
const DUMMY_W: f64 = 10.0;

/// A node on a cycle, if the edges have one.
pub(crate) fn find_cycle(n: usize, edges: &[(usize, usize)]) -> Option<usize> {
    let mut indegree = vec![0usize; n];
    let mut preds = vec![Vec::new(); n];
    let mut succs = vec![Vec::new(); n];
    for &(from, to) in edges {
        indegree[to] += 1;
        preds[to].push(from);
        succs[from].push(to);
    }
    let mut queue: Vec<usize> = (0..n).filter(|&v| indegree[v] == 0).collect();
    let mut done = vec![false; n];
    while let Some(v) = queue.pop() {
        done[v] = true;
        for &w in &succs[v] {
            indegree[w] -= 1;
            if indegree[w] == 0 {
                queue.push(w);
            }
        }
    }
    // Every node left has a predecessor left; walking back must come round to a cycle.
    let start = (0..n).find(|&v| !done[v])?;
    let mut seen = vec![false; n];
    let mut v = start;
    while !seen[v] {
        seen[v] = true;
        v = *preds[v].iter().find(|&&p| !done[p]).expect("a node left by Kahn has a predecessor left");
    }
    Some(v)
}

/// Longest-path layer of every node (sources are layer 0). The edges must be acyclic.
pub(crate) fn layers(n: usize, edges: &[(usize, usize)]) -> Vec<usize> {
    let mut indegree = vec![0usize; n];
    let mut succs = vec![Vec::new(); n];
    for &(from, to) in edges {
        indegree[to] += 1;
        succs[from].push(to);
    }
    let mut layer = vec![0usize; n];
    let mut queue: std::collections::VecDeque<usize> = (0..n).filter(|&v| indegree[v] == 0).collect();
    while let Some(v) = queue.pop_front() {
        for &w in &succs[v] {
            layer[w] = layer[w].max(layer[v] + 1);
            indegree[w] -= 1;
            if indegree[w] == 0 {
                queue.push_back(w);
            }
        }
    }
    layer
}

/// Positions of the layout: node and dummy centres, and each edge's chain of points.
pub(crate) struct Layout {
    /// Per vertex (nodes first, then dummies): layer and centre x (from 0).
    pub layer: Vec<usize>,
    pub x: Vec<f64>,
    pub width: Vec<f64>,
    /// Per edge: the vertices it passes, source to target.
    pub chains: Vec<Vec<usize>>,
    pub n_layers: usize,
}

pub(crate) fn layout(widths: &[f64], edges: &[(usize, usize)]) -> Layout {
    let n = widths.len();
    let mut layer = layers(n, edges);
    let mut width = widths.to_vec();
    let mut chains = Vec::new();
    let mut links: Vec<(usize, usize)> = Vec::new();
    for &(from, to) in edges {
        let mut chain = vec![from];
        for l in layer[from] + 1..layer[to] {
            layer.push(l);
            width.push(DUMMY_W);
            chain.push(layer.len() - 1);
        }
        chain.push(to);
        links.extend(chain.windows(2).map(|pair| (pair[0], pair[1])));
        chains.push(chain);
    }
    let count = layer.len();
    let n_layers = layer.iter().max().map_or(0, |l| l + 1);
    let mut preds = vec![Vec::new(); count];
    let mut succs = vec![Vec::new(); count];
    for &(a, b) in &links {
        succs[a].push(b);
        preds[b].push(a);
    }

    // Order within layers.
    let mut order: Vec<Vec<usize>> = vec![Vec::new(); n_layers];
    for v in 0..count {
        order[layer[v]].push(v);
    }
    let mut position = vec![0usize; count];
    let index = |order: &Vec<Vec<usize>>, position: &mut Vec<usize>| {
        for row in order {
            for (i, &v) in row.iter().enumerate() {
                position[v] = i;
            }
        }
    };
    index(&order, &mut position);
    let crossings = |position: &Vec<usize>| -> usize {
        let mut total = 0;
        for (i, &(a, b)) in links.iter().enumerate() {
            for &(c, d) in &links[i + 1..] {
                if layer[a] == layer[c] {
                    let first = position[a] as i64 - position[c] as i64;
                    let second = position[b] as i64 - position[d] as i64;
                    if first * second < 0 {
                        total += 1;
                    }
                }
            }
        }
        total
    };
    let mut best = (crossings(&position), order.clone());
    for _ in 0..8 {
        for downward in [true, false] {
            let layers: Vec<usize> =
                if downward { (1..n_layers).collect() } else { (0..n_layers.saturating_sub(1)).rev().collect() };
            for l in layers {
                let mut keyed: Vec<(f64, usize)> = order[l]
                    .iter()
                    .map(|&v| {
                        let neighbours = if downward { &preds[v] } else { &succs[v] };
                        let key = if neighbours.is_empty() {
                            position[v] as f64
                        } else {
                            neighbours.iter().map(|&u| position[u] as f64).sum::<f64>() / neighbours.len() as f64
                        };
                        (key, v)
                    })
                    .collect();
                keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
                order[l] = keyed.into_iter().map(|(_, v)| v).collect();
                index(&order, &mut position);
            }
            let c = crossings(&position);
            if c < best.0 {
                best = (c, order.clone());
            }
        }
    }
    let order = best.1;

    // x: pack each layer around 0, then pull towards neighbours.
    let mut x = vec![0.0; count];
    for row in &order {
        let total: f64 = row.iter().map(|&v| width[v]).sum::<f64>() + GAP * row.len().saturating_sub(1) as f64;
        let mut left = -total / 2.0;
        for &v in row {
            x[v] = left + width[v] / 2.0;
            left += width[v] + GAP;
        }
    }
    for _ in 0..6 {
        for downward in [true, false] {
            let layers: Vec<usize> =
                if downward { (1..n_layers).collect() } else { (0..n_layers.saturating_sub(1)).rev().collect() };
            for l in layers {
                let row = &order[l];
                let desired: Vec<f64> = row
                    .iter()
                    .map(|&v| {
                        let neighbours = if downward { &preds[v] } else { &succs[v] };
                        if neighbours.is_empty() {
                            x[v]
                        } else {
                            neighbours.iter().map(|&u| x[u]).sum::<f64>() / neighbours.len() as f64
                        }
                    })
                    .collect();
                let sizes: Vec<f64> = row.iter().map(|&v| width[v]).collect();
                for (&v, placed) in row.iter().zip(separate(&desired, &sizes, GAP)) {
                    x[v] = placed;
                }
            }
        }
    }
    Layout { layer, x, width, chains, n_layers }
}

/// Where each edge leaves its source and enters its target, as x offsets from the box centre:
/// a box's edges spread over the middle 60% of its bottom (top), in the order of the vertices
/// at their other ends, so they do not cross at the box and arrows do not pile up.
fn ports(layout: &Layout, n_nodes: usize) -> Vec<(i32, i32)> {
    let mut ports = vec![(0, 0); layout.chains.len()];
    for v in 0..n_nodes {
        for outgoing in [true, false] {
            let mut ends: Vec<(f64, usize)> = layout
                .chains
                .iter()
                .enumerate()
                .filter(|(_, chain)| if outgoing { chain[0] == v } else { chain[chain.len() - 1] == v })
                .map(|(i, chain)| (layout.x[if outgoing { chain[1] } else { chain[chain.len() - 2] }], i))
                .collect();
            ends.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let span = layout.width[v] * 0.6;
            let count = ends.len() as f64;
            for (k, (_, i)) in ends.iter().enumerate() {
                let offset =
                    if ends.len() > 1 { (-span / 2.0 + span * (k as f64 + 0.5) / count).round() as i32 } else { 0 };
                if outgoing {
                    ports[*i].0 = offset;
                } else {
                    ports[*i].1 = offset;
                }
            }
        }
    }
    ports
}

/// A kind's family: the part before the first dot (`ml` of `ml.train_gbdt`, `shell` of `shell`).
pub(crate) fn family(kind: &str) -> &str {
    kind.split('.').next().unwrap_or(kind)
}

/// The DAG in one line: its size, and which node made the report. `edges` are the checked
/// (deduplicated) edges as node indices.
pub(crate) fn summary(dag: &Dag, edges: &[(usize, usize)]) -> String {
    let n_layers = layers(dag.nodes.len(), edges).iter().max().map_or(0, |l| l + 1);
    let mut line = format!("{} nodes, {} dependencies, {} layers", dag.nodes.len(), edges.len(), n_layers);
    if let Some(report) = &dag.report_node {
        line.push_str(&format!("; this report comes from node '{report}'"));
    }
    line
}

/// The box of the report's own node: a heavier, darker outline than the others.
const REPORT_BORDER: u32 = 4;

pub(crate) struct DagFigure {
    dag: Dag,
    layout: Layout,
    /// Left edge of the layout's x = 0 in pixels.
    offset: f64,
    /// Per edge: x offsets of its end points from the centres of its source and target.
    ports: Vec<(i32, i32)>,
    summary: String,
    /// Kind families in order of first appearance, with their colour.
    families: Vec<(String, RGBColor)>,
}

impl DagFigure {
    /// `None` for a DAG without nodes. `edges` are the checked edges as node indices;
    /// `palette` is the report's, so a family named after a modality keeps its colour.
    pub(crate) fn new(dag: &Dag, edges: &[(usize, usize)], palette: &Palette) -> Option<DagFigure> {
        if dag.nodes.is_empty() {
            return None;
        }
        let widths: Vec<f64> = dag
            .nodes
            .iter()
            .map(|node| {
                let name = text_width(&node.name, 13.0, FontStyle::Bold);
                let kind = text_width(&node.kind, 11.0, FontStyle::Normal);
                (name.max(kind) + 24).max(110) as f64
            })
            .collect();
        let layout = layout(&widths, edges);
        let left = (0..layout.x.len()).map(|v| layout.x[v] - layout.width[v] / 2.0).fold(f64::INFINITY, f64::min);
        let ports = ports(&layout, dag.nodes.len());
        let mut families: Vec<(String, RGBColor)> = Vec::new();
        for node in &dag.nodes {
            let name = family(&node.kind);
            if !families.iter().any(|(known, _)| known == name) {
                families.push((name.to_string(), palette.colour(name)));
            }
        }
        Some(DagFigure {
            dag: dag.clone(),
            offset: MARGIN as f64 - left,
            summary: summary(dag, edges),
            layout,
            ports,
            families,
        })
    }

    fn colour(&self, kind: &str) -> RGBColor {
        let name = family(kind);
        self.families.iter().find(|(known, _)| known == name).map_or(MUTED, |(_, colour)| *colour)
    }

    fn layout_width(&self) -> i32 {
        let right = (0..self.layout.x.len()).map(|v| self.layout.x[v] + self.layout.width[v] / 2.0).fold(0.0, f64::max);
        (right + self.offset).ceil() as i32 + MARGIN
    }

    fn px(&self, v: usize) -> i32 {
        (self.layout.x[v] + self.offset).round() as i32
    }

    fn layer_top(&self, layer: usize) -> i32 {
        HEAD + layer as i32 * (BOX_H + LAYER_GAP)
    }

    /// The legend's width: "kind family:", a swatch per family and the report's outline.
    fn legend_width(&self) -> i32 {
        let swatches: i32 =
            self.families.iter().map(|(name, _)| 11 + 6 + text_width(name, 12.0, FontStyle::Normal) + 18).sum();
        let report = if self.dag.report_node.is_some() {
            16 + 6 + text_width("this report", 12.0, FontStyle::Normal)
        } else {
            0
        };
        text_width("kind family:", 12.0, FontStyle::Normal) + 8 + swatches + report
    }
}

impl Figure for DagFigure {
    fn name(&self) -> &'static str {
        "dag"
    }

    fn size(&self) -> (u32, u32) {
        let width = self
            .layout_width()
            .max(2 * MARGIN + text_width(&self.summary, 12.0, FontStyle::Normal))
            .max(2 * MARGIN + self.legend_width())
            .max(2 * MARGIN + 420);
        (width as u32, (self.layer_top(self.layout.n_layers) - LAYER_GAP + MARGIN) as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        text(root, "Workflow", (MARGIN, MARGIN), &bold(17.0), HPos::Left, VPos::Top)?;
        text(root, &self.summary, (MARGIN, MARGIN + 24), &font(12.0).color(&MUTED), HPos::Left, VPos::Top)?;
        let legend_y = MARGIN + 52;
        let label = "kind family:";
        text(root, label, (MARGIN, legend_y), &font(12.0).color(&MUTED), HPos::Left, VPos::Center)?;
        let mut x = MARGIN + text_width(label, 12.0, FontStyle::Normal) + 8;
        for (name, colour) in &self.families {
            x = swatch(root, (x, legend_y), *colour, name, 12.0)? + 18;
        }
        if self.dag.report_node.is_some() {
            framed_box(root, (x, legend_y - 6), (x + 16, legend_y + 6), TEXT, REPORT_BORDER - 1, WHITE)?;
            text(root, "this report", (x + 22, legend_y), &font(12.0), HPos::Left, VPos::Center)?;
        }

        for (chain, (out_port, in_port)) in self.layout.chains.iter().zip(&self.ports) {
            let mut points = Vec::new();
            let last = chain.len() - 2;
            for (i, pair) in chain.windows(2).enumerate() {
                let (a, b) = (pair[0], pair[1]);
                let top_a = self.layer_top(self.layout.layer[a]);
                // From a box's bottom; from a dummy, the previous curve ended at the top of its
                // layer, so the line runs straight down past the boxes beside it.
                let start_x = self.px(a) + if i == 0 { *out_port } else { 0 };
                let end_x = self.px(b) + if i == last { *in_port } else { 0 };
                points.extend(bezier((start_x, top_a + BOX_H), (end_x, self.layer_top(self.layout.layer[b]))));
            }
            line(root, points.clone(), RULE, 2)?;
            if let [.., before, last] = points[..] {
                arrow_head(root, before, last)?;
            }
        }

        for (v, node) in self.dag.nodes.iter().enumerate() {
            let half = (self.layout.width[v] / 2.0).round() as i32;
            let (cx, top) = (self.px(v), self.layer_top(self.layout.layer[v]));
            let colour = self.colour(&node.kind);
            let is_report = self.dag.report_node.as_deref() == Some(node.name.as_str());
            let (border, width) = if is_report { (TEXT, REPORT_BORDER) } else { (colour, 2) };
            framed_box(root, (cx - half, top), (cx + half, top + BOX_H), border, width, mix(WHITE, colour, 0.16))?;
            text(root, &node.name, (cx, top + 8), &bold(13.0), HPos::Center, VPos::Top)?;
            text(root, &node.kind, (cx, top + 26), &font(11.0).color(&MUTED), HPos::Center, VPos::Top)?;
        }
        Ok(())
    }
}

/// A box with a border `width` pixels wide, drawn as two filled rectangles: the SVG backend
/// writes outlines without a stroke width, so an outline would be 1 px in the page however
/// heavy it is in the PNG.
fn framed_box<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    (x0, y0): (i32, i32),
    (x1, y1): (i32, i32),
    border: RGBColor,
    width: u32,
    fill: RGBColor,
) -> DrawResult<DB> {
    let inset = width as i32;
    fill_rect(root, (x0, y0), (x1, y1), border)?;
    fill_rect(root, (x0 + inset, y0 + inset), (x1 - inset, y1 - inset), fill)
}

/// A vertical-tangent cubic from `a` down to `b`, as points.
fn bezier(a: (i32, i32), b: (i32, i32)) -> Vec<(i32, i32)> {
    let (ax, ay, bx, by) = (a.0 as f64, a.1 as f64, b.0 as f64, b.1 as f64);
    let mid = (ay + by) / 2.0;
    (0..=16)
        .map(|i| {
            let t = i as f64 / 16.0;
            let u = 1.0 - t;
            let x = u * u * u * ax + 3.0 * u * u * t * ax + 3.0 * u * t * t * bx + t * t * t * bx;
            let y = u * u * u * ay + 3.0 * u * u * t * mid + 3.0 * u * t * t * mid + t * t * t * by;
            (x.round() as i32, y.round() as i32)
        })
        .collect()
}

fn arrow_head<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, from: (i32, i32), to: (i32, i32)) -> DrawResult<DB> {
    let (dx, dy) = ((to.0 - from.0) as f64, (to.1 - from.1) as f64);
    let length = dx.hypot(dy).max(1e-9);
    let (ux, uy) = (dx / length, dy / length);
    let back = (to.0 as f64 - 9.0 * ux, to.1 as f64 - 9.0 * uy);
    let corner = |sign: f64| ((back.0 - sign * 5.0 * uy).round() as i32, (back.1 + sign * 5.0 * ux).round() as i32);
    root.draw(&Polygon::new(vec![to, corner(1.0), corner(-1.0)], MUTED.filled()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_node_on_the_cycle_not_just_downstream_of_it() {
        // 0 -> 1 -> 2 -> 1, 2 -> 3: node 3 is stuck too but is not on the cycle.
        let node = find_cycle(4, &[(0, 1), (1, 2), (2, 1), (2, 3)]).unwrap();
        assert!(node == 1 || node == 2, "{node}");
        assert_eq!(find_cycle(3, &[(0, 1), (1, 2), (0, 2)]), None);
    }

    #[test]
    fn layers_are_longest_paths_and_long_edges_get_dummies() {
        let edges = [(0, 1), (1, 2), (0, 2), (2, 3)];
        assert_eq!(layers(4, &edges), vec![0, 1, 2, 3]);
        let layout = layout(&[100.0; 4], &edges);
        assert_eq!(layout.chains[2].len(), 3, "0 -> 2 passes a dummy in layer 1");
        assert_eq!(layout.layer[layout.chains[2][1]], 1);
    }

    #[test]
    fn boxes_in_a_layer_do_not_overlap() {
        // A fan: one source, five children, one sink.
        let mut edges: Vec<(usize, usize)> = (1..6).map(|c| (0, c)).collect();
        edges.extend((1..6).map(|c| (c, 6)));
        let layout = layout(&[120.0; 7], &edges);
        let mut row: Vec<usize> = (1..6).collect();
        row.sort_by(|a, b| layout.x[*a].total_cmp(&layout.x[*b]));
        for pair in row.windows(2) {
            assert!(layout.x[pair[1]] - layout.x[pair[0]] >= 120.0 + GAP - 1e-9);
        }
        // The source and sink sit over the middle of the fan.
        let mean: f64 = (1..6).map(|c| layout.x[c]).sum::<f64>() / 5.0;
        assert!((layout.x[0] - mean).abs() < 1e-6 && (layout.x[6] - mean).abs() < 1e-6);
    }
}
