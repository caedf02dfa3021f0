//! The triangle mesh of the ROI surface: marching cubes over the mask padded by one voxel,
//! iso-level 0.5, every vertex in the middle of an edge between an ROI voxel and a voxel outside.
//!
//! Only the mesh's surface area and signed volume are needed, and both are sums over triangles,
//! so the mesh is never built: each cube of 2x2x2 voxels is reduced to its configuration (one bit
//! per corner), the cubes are counted per configuration together with the sum of their
//! positions, and the per-configuration sums of the triangles' terms are scaled by those counts.

use super::Padded;

/// Corner `c` of a cube as an (x, y, z) offset from the cube's lowest voxel; bit `c` of the
/// configuration is set when that voxel is in the ROI.
const CORNERS: [[usize; 3]; 8] =
    [[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]];

/// The 12 cube edges as pairs of corners.
const EDGES: [[usize; 2]; 12] =
    [[0, 1], [1, 2], [2, 3], [3, 0], [4, 5], [5, 6], [6, 7], [7, 4], [0, 4], [1, 5], [2, 6], [3, 7]];

/// Triangles (as edge triples) of configurations 0 to 127: the first half of the classic
/// marching cubes table (Lorensen & Cline 1987, as published by Paul Bourke in "Polygonising a
/// scalar field", table by Cory Bloyd, public domain) in the corner and edge numbering above.
///
/// As in pyradiomics, a configuration from 128 up (corner 7 in the ROI) takes the triangles of
/// its complement with the opposite orientation; with this corner numbering (corner `c` at bit
/// `c`, x along edge 0) that reproduces pyradiomics' surface area and volume exactly, including
/// the ambiguous configurations (checked on all 255 single-cube masks, random masks and real
/// ROIs; see tests/shape.rs).
#[rustfmt::skip]
const TRIANGLES: [&[[u8; 3]]; 128] = [
    &[], // 0
    &[[0, 8, 3]], // 1
    &[[0, 1, 9]], // 2
    &[[1, 8, 3], [9, 8, 1]], // 3
    &[[1, 2, 10]], // 4
    &[[0, 8, 3], [1, 2, 10]], // 5
    &[[9, 2, 10], [0, 2, 9]], // 6
    &[[2, 8, 3], [2, 10, 8], [10, 9, 8]], // 7
    &[[3, 11, 2]], // 8
    &[[0, 11, 2], [8, 11, 0]], // 9
    &[[1, 9, 0], [2, 3, 11]], // 10
    &[[1, 11, 2], [1, 9, 11], [9, 8, 11]], // 11
    &[[3, 10, 1], [11, 10, 3]], // 12
    &[[0, 10, 1], [0, 8, 10], [8, 11, 10]], // 13
    &[[3, 9, 0], [3, 11, 9], [11, 10, 9]], // 14
    &[[9, 8, 10], [10, 8, 11]], // 15
    &[[4, 7, 8]], // 16
    &[[4, 3, 0], [7, 3, 4]], // 17
    &[[0, 1, 9], [8, 4, 7]], // 18
    &[[4, 1, 9], [4, 7, 1], [7, 3, 1]], // 19
    &[[1, 2, 10], [8, 4, 7]], // 20
    &[[3, 4, 7], [3, 0, 4], [1, 2, 10]], // 21
    &[[9, 2, 10], [9, 0, 2], [8, 4, 7]], // 22
    &[[2, 10, 9], [2, 9, 7], [2, 7, 3], [7, 9, 4]], // 23
    &[[8, 4, 7], [3, 11, 2]], // 24
    &[[11, 4, 7], [11, 2, 4], [2, 0, 4]], // 25
    &[[9, 0, 1], [8, 4, 7], [2, 3, 11]], // 26
    &[[4, 7, 11], [9, 4, 11], [9, 11, 2], [9, 2, 1]], // 27
    &[[3, 10, 1], [3, 11, 10], [7, 8, 4]], // 28
    &[[1, 11, 10], [1, 4, 11], [1, 0, 4], [7, 11, 4]], // 29
    &[[4, 7, 8], [9, 0, 11], [9, 11, 10], [11, 0, 3]], // 30
    &[[4, 7, 11], [4, 11, 9], [9, 11, 10]], // 31
    &[[9, 5, 4]], // 32
    &[[9, 5, 4], [0, 8, 3]], // 33
    &[[0, 5, 4], [1, 5, 0]], // 34
    &[[8, 5, 4], [8, 3, 5], [3, 1, 5]], // 35
    &[[1, 2, 10], [9, 5, 4]], // 36
    &[[3, 0, 8], [1, 2, 10], [4, 9, 5]], // 37
    &[[5, 2, 10], [5, 4, 2], [4, 0, 2]], // 38
    &[[2, 10, 5], [3, 2, 5], [3, 5, 4], [3, 4, 8]], // 39
    &[[9, 5, 4], [2, 3, 11]], // 40
    &[[0, 11, 2], [0, 8, 11], [4, 9, 5]], // 41
    &[[0, 5, 4], [0, 1, 5], [2, 3, 11]], // 42
    &[[2, 1, 5], [2, 5, 8], [2, 8, 11], [4, 8, 5]], // 43
    &[[10, 3, 11], [10, 1, 3], [9, 5, 4]], // 44
    &[[4, 9, 5], [0, 8, 1], [8, 10, 1], [8, 11, 10]], // 45
    &[[5, 4, 0], [5, 0, 11], [5, 11, 10], [11, 0, 3]], // 46
    &[[5, 4, 8], [5, 8, 10], [10, 8, 11]], // 47
    &[[9, 7, 8], [5, 7, 9]], // 48
    &[[9, 3, 0], [9, 5, 3], [5, 7, 3]], // 49
    &[[0, 7, 8], [0, 1, 7], [1, 5, 7]], // 50
    &[[1, 5, 3], [3, 5, 7]], // 51
    &[[9, 7, 8], [9, 5, 7], [10, 1, 2]], // 52
    &[[10, 1, 2], [9, 5, 0], [5, 3, 0], [5, 7, 3]], // 53
    &[[8, 0, 2], [8, 2, 5], [8, 5, 7], [10, 5, 2]], // 54
    &[[2, 10, 5], [2, 5, 3], [3, 5, 7]], // 55
    &[[7, 9, 5], [7, 8, 9], [3, 11, 2]], // 56
    &[[9, 5, 7], [9, 7, 2], [9, 2, 0], [2, 7, 11]], // 57
    &[[2, 3, 11], [0, 1, 8], [1, 7, 8], [1, 5, 7]], // 58
    &[[11, 2, 1], [11, 1, 7], [7, 1, 5]], // 59
    &[[9, 5, 8], [8, 5, 7], [10, 1, 3], [10, 3, 11]], // 60
    &[[5, 7, 0], [5, 0, 9], [7, 11, 0], [1, 0, 10], [11, 10, 0]], // 61
    &[[11, 10, 0], [11, 0, 3], [10, 5, 0], [8, 0, 7], [5, 7, 0]], // 62
    &[[11, 10, 5], [7, 11, 5]], // 63
    &[[10, 6, 5]], // 64
    &[[0, 8, 3], [5, 10, 6]], // 65
    &[[9, 0, 1], [5, 10, 6]], // 66
    &[[1, 8, 3], [1, 9, 8], [5, 10, 6]], // 67
    &[[1, 6, 5], [2, 6, 1]], // 68
    &[[1, 6, 5], [1, 2, 6], [3, 0, 8]], // 69
    &[[9, 6, 5], [9, 0, 6], [0, 2, 6]], // 70
    &[[5, 9, 8], [5, 8, 2], [5, 2, 6], [3, 2, 8]], // 71
    &[[2, 3, 11], [10, 6, 5]], // 72
    &[[11, 0, 8], [11, 2, 0], [10, 6, 5]], // 73
    &[[0, 1, 9], [2, 3, 11], [5, 10, 6]], // 74
    &[[5, 10, 6], [1, 9, 2], [9, 11, 2], [9, 8, 11]], // 75
    &[[6, 3, 11], [6, 5, 3], [5, 1, 3]], // 76
    &[[0, 8, 11], [0, 11, 5], [0, 5, 1], [5, 11, 6]], // 77
    &[[3, 11, 6], [0, 3, 6], [0, 6, 5], [0, 5, 9]], // 78
    &[[6, 5, 9], [6, 9, 11], [11, 9, 8]], // 79
    &[[5, 10, 6], [4, 7, 8]], // 80
    &[[4, 3, 0], [4, 7, 3], [6, 5, 10]], // 81
    &[[1, 9, 0], [5, 10, 6], [8, 4, 7]], // 82
    &[[10, 6, 5], [1, 9, 7], [1, 7, 3], [7, 9, 4]], // 83
    &[[6, 1, 2], [6, 5, 1], [4, 7, 8]], // 84
    &[[1, 2, 5], [5, 2, 6], [3, 0, 4], [3, 4, 7]], // 85
    &[[8, 4, 7], [9, 0, 5], [0, 6, 5], [0, 2, 6]], // 86
    &[[7, 3, 9], [7, 9, 4], [3, 2, 9], [5, 9, 6], [2, 6, 9]], // 87
    &[[3, 11, 2], [7, 8, 4], [10, 6, 5]], // 88
    &[[5, 10, 6], [4, 7, 2], [4, 2, 0], [2, 7, 11]], // 89
    &[[0, 1, 9], [4, 7, 8], [2, 3, 11], [5, 10, 6]], // 90
    &[[9, 2, 1], [9, 11, 2], [9, 4, 11], [7, 11, 4], [5, 10, 6]], // 91
    &[[8, 4, 7], [3, 11, 5], [3, 5, 1], [5, 11, 6]], // 92
    &[[5, 1, 11], [5, 11, 6], [1, 0, 11], [7, 11, 4], [0, 4, 11]], // 93
    &[[0, 5, 9], [0, 6, 5], [0, 3, 6], [11, 6, 3], [8, 4, 7]], // 94
    &[[6, 5, 9], [6, 9, 11], [4, 7, 9], [7, 11, 9]], // 95
    &[[10, 4, 9], [6, 4, 10]], // 96
    &[[4, 10, 6], [4, 9, 10], [0, 8, 3]], // 97
    &[[10, 0, 1], [10, 6, 0], [6, 4, 0]], // 98
    &[[8, 3, 1], [8, 1, 6], [8, 6, 4], [6, 1, 10]], // 99
    &[[1, 4, 9], [1, 2, 4], [2, 6, 4]], // 100
    &[[3, 0, 8], [1, 2, 9], [2, 4, 9], [2, 6, 4]], // 101
    &[[0, 2, 4], [4, 2, 6]], // 102
    &[[8, 3, 2], [8, 2, 4], [4, 2, 6]], // 103
    &[[10, 4, 9], [10, 6, 4], [11, 2, 3]], // 104
    &[[0, 8, 2], [2, 8, 11], [4, 9, 10], [4, 10, 6]], // 105
    &[[3, 11, 2], [0, 1, 6], [0, 6, 4], [6, 1, 10]], // 106
    &[[6, 4, 1], [6, 1, 10], [4, 8, 1], [2, 1, 11], [8, 11, 1]], // 107
    &[[9, 6, 4], [9, 3, 6], [9, 1, 3], [11, 6, 3]], // 108
    &[[8, 11, 1], [8, 1, 0], [11, 6, 1], [9, 1, 4], [6, 4, 1]], // 109
    &[[3, 11, 6], [3, 6, 0], [0, 6, 4]], // 110
    &[[6, 4, 8], [11, 6, 8]], // 111
    &[[7, 10, 6], [7, 8, 10], [8, 9, 10]], // 112
    &[[0, 7, 3], [0, 10, 7], [0, 9, 10], [6, 7, 10]], // 113
    &[[10, 6, 7], [1, 10, 7], [1, 7, 8], [1, 8, 0]], // 114
    &[[10, 6, 7], [10, 7, 1], [1, 7, 3]], // 115
    &[[1, 2, 6], [1, 6, 8], [1, 8, 9], [8, 6, 7]], // 116
    &[[2, 6, 9], [2, 9, 1], [6, 7, 9], [0, 9, 3], [7, 3, 9]], // 117
    &[[7, 8, 0], [7, 0, 6], [6, 0, 2]], // 118
    &[[7, 3, 2], [6, 7, 2]], // 119
    &[[2, 3, 11], [10, 6, 8], [10, 8, 9], [8, 6, 7]], // 120
    &[[2, 0, 7], [2, 7, 11], [0, 9, 7], [6, 7, 10], [9, 10, 7]], // 121
    &[[1, 8, 0], [1, 7, 8], [1, 10, 7], [6, 7, 10], [2, 3, 11]], // 122
    &[[11, 2, 1], [11, 1, 7], [10, 6, 1], [6, 7, 1]], // 123
    &[[8, 9, 6], [8, 6, 7], [9, 1, 6], [11, 6, 3], [1, 3, 6]], // 124
    &[[0, 9, 1], [11, 6, 7]], // 125
    &[[7, 8, 0], [7, 0, 6], [3, 11, 0], [11, 6, 0]], // 126
    &[[7, 11, 6]], // 127
];

/// Surface area (mm²) and signed volume (mm³) of the mesh.
///
/// The volume is pyradiomics' sum of signed tetrahedra between the origin of the padded grid
/// and each triangle, without taking its absolute value: a few ambiguous configurations get
/// inconsistently oriented triangles from the table, so for odd masks (voxels touching only along
/// edges) pyradiomics' value, and therefore ours, can even be negative.
pub(super) fn area_and_volume(grid: &Padded, spacing: [f64; 3]) -> (f64, f64) {
    let (count, position) = configurations(grid);
    let mut area = 0.0;
    let mut volume6 = 0.0;
    for config in 1..255 {
        if count[config] == 0 {
            continue;
        }
        let terms = Terms::of(config, spacing);
        let n = count[config] as f64;
        area += n * terms.area;
        // Triangle (o + a, o + b, o + c) of a cube at o: (o + a) . ((o + b) x (o + c))
        // = a . (b x c) + o . (a x b + b x c + c x a).
        let at: [f64; 3] = std::array::from_fn(|axis| position[config][axis] as f64 * spacing[axis]);
        volume6 += n * terms.triple + dot(at, terms.normal);
    }
    (area, volume6 / 6.0)
}

/// Per configuration, how many cubes have it and the sum of their positions (lowest voxel, in
/// voxels of the padded grid).
fn configurations(grid: &Padded) -> (Vec<u64>, Vec<[u64; 3]>) {
    // Corner bits of the two x-columns of a cube, from the column's four voxels
    // (y, z), (y + 1, z), (y, z + 1), (y + 1, z + 1).
    let column_bits = |corners: [usize; 4]| -> [usize; 16] {
        std::array::from_fn(|code| (0..4).filter(|k| code >> k & 1 == 1).map(|k| 1 << corners[k]).sum())
    };
    let low = column_bits([0, 3, 4, 7]);
    let high = column_bits([1, 2, 5, 6]);
    let mut count = vec![0u64; 256];
    let mut position = vec![[0u64; 3]; 256];
    let [nx, ny, nz] = grid.size;
    for z in 0..nz - 1 {
        for y in 0..ny - 1 {
            let rows = [grid.row(y, z), grid.row(y + 1, z), grid.row(y, z + 1), grid.row(y + 1, z + 1)];
            let code = |x: usize| {
                usize::from(rows[0][x])
                    | usize::from(rows[1][x]) << 1
                    | usize::from(rows[2][x]) << 2
                    | usize::from(rows[3][x]) << 3
            };
            let mut previous = code(0);
            let mut x = 0;
            while x < nx - 1 {
                if Padded::flat(&rows, x) {
                    x += 8;
                    previous = code(x);
                    continue;
                }
                let next = code(x + 1);
                let config = low[previous] | high[next];
                previous = next;
                if config != 0 && config != 255 {
                    count[config] += 1;
                    let p = &mut position[config];
                    p[0] += x as u64;
                    p[1] += y as u64;
                    p[2] += z as u64;
                }
                x += 1;
            }
        }
    }
    (count, position)
}

/// Sums over the triangles of one configuration, in mm, relative to the cube's lowest voxel.
struct Terms {
    /// Sum of the triangles' areas.
    area: f64,
    /// Sum of `a . (b x c)`.
    triple: f64,
    /// Sum of `a x b + b x c + c x a` (twice the oriented area vector).
    normal: [f64; 3],
}

impl Terms {
    fn of(config: usize, spacing: [f64; 3]) -> Terms {
        // pyradiomics takes coordinates in (z, y, x) order, where the listed triangles face
        // outwards; in (x, y, z), a mirror image, they face inwards, so the first half is reversed.
        let (row, flip) = if config & 0x80 == 0 { (config, true) } else { (config ^ 0xff, false) };
        let vertex = |edge: u8| -> [f64; 3] {
            let [a, b] = EDGES[edge as usize];
            std::array::from_fn(|axis| (CORNERS[a][axis] + CORNERS[b][axis]) as f64 * 0.5 * spacing[axis])
        };
        let mut terms = Terms { area: 0.0, triple: 0.0, normal: [0.0; 3] };
        for &[i, j, k] in TRIANGLES[row] {
            let (a, b, c) = if flip { (vertex(i), vertex(k), vertex(j)) } else { (vertex(i), vertex(j), vertex(k)) };
            terms.area += 0.5 * norm(cross(sub(b, a), sub(c, a)));
            terms.triple += dot(a, cross(b, c));
            let n = add(add(cross(a, b), cross(b, c)), cross(c, a));
            terms.normal = add(terms.normal, n);
        }
        terms
    }
}

fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn add(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
}

fn norm(a: [f64; 3]) -> f64 {
    dot(a, a).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every configuration's triangles cut exactly the edges whose two corners differ.
    #[test]
    fn table_cuts_the_right_edges() {
        for (config, triangles) in TRIANGLES.iter().enumerate() {
            let inside = |corner: usize| config >> corner & 1 == 1;
            let mut cut: Vec<u8> =
                (0..12u8).filter(|&e| inside(EDGES[e as usize][0]) != inside(EDGES[e as usize][1])).collect();
            let mut used: Vec<u8> = triangles.iter().flatten().copied().collect();
            used.sort_unstable();
            used.dedup();
            cut.sort_unstable();
            assert_eq!(used, cut, "configuration {config}");
        }
    }

    /// Within a configuration, a side between two vertices belongs to one triangle (on the
    /// boundary of the patch) or two (inside it), never more.
    #[test]
    fn no_side_is_shared_by_more_than_two_triangles() {
        for (config, triangles) in TRIANGLES.iter().enumerate() {
            let mut sides: Vec<(u8, u8)> = Vec::new();
            for t in triangles.iter() {
                for s in 0..3 {
                    let (a, b) = (t[s], t[(s + 1) % 3]);
                    sides.push((a.min(b), a.max(b)));
                }
            }
            sides.sort_unstable();
            let mut i = 0;
            while i < sides.len() {
                let run = sides[i..].iter().take_while(|s| **s == sides[i]).count();
                assert!(run <= 2, "configuration {config}: side {:?} in {run} triangles", sides[i]);
                i += run;
            }
        }
    }
}
