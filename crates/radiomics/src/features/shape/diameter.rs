//! Maximum diameters: the largest distances between mesh vertices, in 3D and within planes of
//! constant z (Slice), y (Column) and x (Row).
//!
//! The vertices are the midpoints of the edges between an ROI voxel and a 6-neighbour outside
//! (every such edge is cut by the mesh, and no other), kept in doubled voxel units so that
//! grouping by plane and convexity tests are exact integer arithmetic.
//!
//! The farthest pair of a point set is a pair of extreme points of its convex hull, so only those
//! are compared:
//! - in 2D, each plane's hull comes from the monotone chain and its vertices are compared pairwise;
//! - in 3D, an extreme point `v` of the whole set maximises some linear function uniquely, and so
//!   it does over the points of any plane through `v`: `v` is an extreme point of the hull of its
//!   z-plane, of its y-plane and of its x-plane. The points passing all three 2D hulls are a small
//!   superset of the 3D hull's vertices, compared pairwise.
//!
//! Before any hull, each line of a plane keeps only its two end points, the only ones that can be
//! extreme; that also leaves them sorted for the monotone chain without a sort.
//!
//! Scaling the axes by the spacing is linear, so hulls in voxel units are hulls in mm.

use super::Padded;

/// The four maximum diameters in mm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Diameters {
    /// Within planes of constant z (axial).
    pub slice: f64,
    /// Within planes of constant y (coronal).
    pub column: f64,
    /// Within planes of constant x (sagittal).
    pub row: f64,
    pub max_3d: f64,
}

pub(super) fn diameters(grid: &Padded, spacing: [f64; 3]) -> Diameters {
    let half = spacing.map(|s| 0.5 * s);
    let distance2 = |a: [u32; 3], b: [u32; 3]| -> f64 {
        (0..3).map(|axis| ((f64::from(a[axis]) - f64::from(b[axis])) * half[axis]).powi(2)).sum()
    };
    let mut families = [0, 1, 2].map(|normal| Family::new(normal, grid.size));
    for_each_vertex(grid, |v| families.iter_mut().for_each(|f| f.add(v)));
    let mut in_plane = [0.0f64; 3];
    // Per family, the extreme points of every plane's hull.
    let mut extreme: [Vec<[u32; 3]>; 3] = Default::default();
    let (mut lows, mut highs) = (Vec::new(), Vec::new());
    let mut hull: Vec<[i64; 2]> = Vec::new();
    let mut corners: Vec<[u32; 3]> = Vec::new();
    for (family, found) in families.iter().zip(&mut extreme) {
        for plane in 0..family.planes {
            family.line_ends(plane, &mut lows, &mut highs);
            convex_hull(&lows, &highs, &mut hull);
            corners.clear();
            corners.extend(hull.iter().map(|&p| family.vertex(plane, p)));
            found.extend_from_slice(&corners);
            // No pair of the plane is farther apart than the corners of its bounding box.
            let (Some(first), Some(last)) = (lows.first(), lows.last()) else { continue };
            let w_low = lows.iter().map(|p| p[1]).min().unwrap_or(0);
            let w_high = highs.iter().map(|p| p[1]).max().unwrap_or(0);
            let box_corners = [family.vertex(plane, [first[0], w_low]), family.vertex(plane, [last[0], w_high])];
            if distance2(box_corners[0], box_corners[1]) <= in_plane[family.normal] {
                continue;
            }
            for (k, &a) in corners.iter().enumerate() {
                for &b in &corners[k + 1..] {
                    in_plane[family.normal] = in_plane[family.normal].max(distance2(a, b));
                }
            }
        }
        found.sort_unstable();
    }
    let candidates: Vec<[u32; 3]> = extreme[0]
        .iter()
        .filter(|v| extreme[1].binary_search(v).is_ok() && extreme[2].binary_search(v).is_ok())
        .copied()
        .collect();
    let mut max_3d = 0.0f64;
    for (k, &a) in candidates.iter().enumerate() {
        for &b in &candidates[k + 1..] {
            max_3d = max_3d.max(distance2(a, b));
        }
    }
    Diameters { slice: in_plane[2].sqrt(), column: in_plane[1].sqrt(), row: in_plane[0].sqrt(), max_3d: max_3d.sqrt() }
}

/// The vertices of the planes normal to one axis, reduced to what their hulls can use: on each
/// line of a plane (constant `u`), only the points of lowest and highest `w` can be extreme.
struct Family {
    normal: usize,
    /// The in-plane axes.
    u: usize,
    w: usize,
    planes: usize,
    lines: usize,
    /// Per plane and line, the lowest and highest `w` (`u32::MAX` and 0 when empty).
    low: Vec<u32>,
    high: Vec<u32>,
}

impl Family {
    fn new(normal: usize, size: [usize; 3]) -> Family {
        let (u, w) = match normal {
            0 => (1, 2),
            1 => (0, 2),
            _ => (0, 1),
        };
        // Doubled coordinates run over 0..2n - 1.
        let (planes, lines) = (2 * size[normal], 2 * size[u]);
        Family { normal, u, w, planes, lines, low: vec![u32::MAX; planes * lines], high: vec![0; planes * lines] }
    }

    #[inline]
    fn add(&mut self, v: [u32; 3]) {
        let at = v[self.normal] as usize * self.lines + v[self.u] as usize;
        self.low[at] = self.low[at].min(v[self.w]);
        self.high[at] = self.high[at].max(v[self.w]);
    }

    /// The lowest and the highest point, as (u, w), of each line of the plane with vertices, in
    /// increasing `u`.
    fn line_ends(&self, plane: usize, lows: &mut Vec<[i64; 2]>, highs: &mut Vec<[i64; 2]>) {
        lows.clear();
        highs.clear();
        let start = plane * self.lines;
        for line in 0..self.lines {
            let (low, high) = (self.low[start + line], self.high[start + line]);
            if low != u32::MAX {
                lows.push([line as i64, i64::from(low)]);
                highs.push([line as i64, i64::from(high)]);
            }
        }
    }

    fn vertex(&self, plane: usize, point: [i64; 2]) -> [u32; 3] {
        let mut v = [0u32; 3];
        v[self.normal] = plane as u32;
        v[self.u] = point[0] as u32;
        v[self.w] = point[1] as u32;
        v
    }
}

/// Calls `f` with the midpoint of every edge between voxels of different value, in doubled voxel
/// units of the padded grid (a voxel centre at index `i` is at `2 i`), each once.
fn for_each_vertex(grid: &Padded, mut f: impl FnMut([u32; 3])) {
    let [nx, ny, nz] = grid.size;
    // The last row, slice and column are padding, with no edge to a voxel of another value
    // within the grid: each edge is visited from its lower end, which is never among them.
    for z in 0..nz - 1 {
        for y in 0..ny - 1 {
            let rows = [grid.row(y, z), grid.row(y + 1, z), grid.row(y, z + 1)];
            let (vy, vz) = (2 * y as u32, 2 * z as u32);
            let mut x = 0;
            while x < nx - 1 {
                if Padded::flat(&rows, x) {
                    x += 8;
                    continue;
                }
                let here = rows[0][x];
                let vx = 2 * x as u32;
                if rows[0][x + 1] != here {
                    f([vx + 1, vy, vz]);
                }
                if rows[1][x] != here {
                    f([vx, vy + 1, vz]);
                }
                if rows[2][x] != here {
                    f([vx, vy, vz + 1]);
                }
                x += 1;
            }
        }
    }
}

/// The convex hull, counter-clockwise, of a plane's points given by the lowest and highest
/// point of each line (increasing `u`) with Andrew's monotone chain: the lower chain can only use
/// the lowest points, the upper chain only the highest. It holds every extreme point; collinear
/// points along a side are left out.
fn convex_hull(lows: &[[i64; 2]], highs: &[[i64; 2]], hull: &mut Vec<[i64; 2]>) {
    hull.clear();
    chain(lows.iter(), hull);
    chain(highs.iter().rev(), hull);
    // The chains meet at the first and the last line, where its two ends may be one point.
    hull.dedup();
    if hull.len() > 1 && hull.first() == hull.last() {
        hull.pop();
    }
}

/// Appends the chain of `points` turning strictly left at each of its points.
fn chain<'a>(points: impl Iterator<Item = &'a [i64; 2]>, hull: &mut Vec<[i64; 2]>) {
    let start = hull.len();
    for &p in points {
        while hull.len() >= start + 2 {
            let (a, b) = (hull[hull.len() - 2], hull[hull.len() - 1]);
            if (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]) > 0 {
                break;
            }
            hull.pop();
        }
        hull.push(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hull_of(points: &[[i64; 2]]) -> Vec<[i64; 2]> {
        let mut sorted = points.to_vec();
        sorted.sort_unstable();
        let lows: Vec<[i64; 2]> =
            sorted.iter().enumerate().filter(|(i, p)| *i == 0 || sorted[i - 1][0] != p[0]).map(|(_, p)| *p).collect();
        let highs: Vec<[i64; 2]> = sorted
            .iter()
            .enumerate()
            .filter(|(i, p)| *i + 1 == sorted.len() || sorted[i + 1][0] != p[0])
            .map(|(_, p)| *p)
            .collect();
        let mut hull = Vec::new();
        convex_hull(&lows, &highs, &mut hull);
        hull.sort_unstable();
        hull
    }

    #[test]
    fn hull_drops_inner_and_collinear_points() {
        let square = [[0, 0], [1, 0], [2, 0], [0, 1], [1, 1], [2, 1], [0, 2], [1, 2], [2, 2]];
        assert_eq!(hull_of(&square), vec![[0, 0], [0, 2], [2, 0], [2, 2]]);
        assert_eq!(hull_of(&[[0, 0], [1, 1], [2, 2], [3, 3]]), vec![[0, 0], [3, 3]]);
        assert_eq!(hull_of(&[[5, 7]]), vec![[5, 7]]);
        assert_eq!(hull_of(&[[5, 7], [1, 1]]), vec![[1, 1], [5, 7]]);
        assert_eq!(hull_of(&[[5, 7], [5, 1], [5, 3]]), vec![[5, 1], [5, 7]]);
        let triangle = [[0, 0], [1, 1], [2, 2], [0, -5], [1, 0]];
        assert_eq!(hull_of(&triangle), vec![[0, -5], [0, 0], [2, 2]]);
    }

    /// The hull-based diameters equal the brute force over all vertex pairs on random masks.
    #[test]
    fn diameters_equal_brute_force() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut random = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        // Cases 40.. are scattered voxels in larger boxes, like pyradiomics' prostate phantom.
        for case in 0..60 {
            let (size, density) = if case < 40 {
                ([3 + case % 5, 2 + case % 7, 1 + case % 4], 20 + (case * 13) % 70)
            } else {
                ([9 + case % 7, 12 + case % 5, 4 + case % 3], 2 + case % 6)
            };
            let mask: Vec<bool> = (0..size.iter().product()).map(|_| random() % 100 < density as u64).collect();
            let grid = Padded::new(size, &mask);
            let spacing = [0.7, 1.3, 2.5];
            let got = diameters(&grid, spacing);
            let mut v = Vec::new();
            for_each_vertex(&grid, |p| v.push(p));
            let mut want = [0.0f64; 4];
            for a in &v {
                for b in &v {
                    let d: f64 = (0..3).map(|k| ((a[k] as f64 - b[k] as f64) * 0.5 * spacing[k]).powi(2)).sum();
                    for (axis, slot) in [(0, 2), (1, 1), (2, 0)] {
                        if a[axis] == b[axis] {
                            want[slot] = want[slot].max(d);
                        }
                    }
                    want[3] = want[3].max(d);
                }
            }
            let want = want.map(f64::sqrt);
            assert_eq!([got.slice, got.column, got.row, got.max_3d], want, "case {case}");
        }
    }
}
