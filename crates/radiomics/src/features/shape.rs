//! Shape features of the ROI in 3D (pyradiomics `shape`, 14 default features).
//!
//! Two sources, as in pyradiomics:
//! - the surface mesh from marching cubes on the mask padded by one voxel ([`mesh`]): MeshVolume,
//!   SurfaceArea and the ratios built on them, and the maximum diameters between mesh vertices
//!   ([`diameter`]);
//! - the voxel centres: VoxelVolume, and the principal component analysis of their physical
//!   coordinates behind the axis lengths, Elongation and Flatness.
//!
//! Coordinates are voxel index times spacing; the image direction plays no part, as in
//! pyradiomics. Where pyradiomics and IBSI differ:
//! - the axis lengths use the covariance normalised by `N` (IBSI: `N - 1`), so they are
//!   `sqrt((N - 1) / N)` times IBSI's; Elongation and Flatness agree;
//! - VoxelVolume is IBSI's "approximate volume" (voxel counting);
//! - MeshVolume is the signed sum over the mesh's triangles, not its absolute value (see
//!   [`mesh::area_and_volume`]).

mod diameter;
mod mesh;

use nalgebra::{Matrix3, SymmetricEigen};

use super::ClassFeatures;
use crate::roi::Roi;

pub fn compute(roi: &Roi) -> ClassFeatures {
    let spacing = roi.spacing;
    let grid = Padded::new(roi.size, &roi.mask);
    let (area, volume) = mesh::area_and_volume(&grid, spacing);
    let diameters = diameter::diameters(&grid, spacing);
    let [least, minor, major] = principal_moments(roi);
    let [sx, sy, sz] = spacing;
    let axis_length = |lambda: f64| if lambda < 0.0 { f64::NAN } else { 4.0 * lambda.sqrt() };
    let ratio = |lambda: f64| if lambda < 0.0 || major < 0.0 { f64::NAN } else { (lambda / major).sqrt() };
    vec![
        ("Elongation", ratio(minor)),
        ("Flatness", ratio(least)),
        ("LeastAxisLength", axis_length(least)),
        ("MajorAxisLength", axis_length(major)),
        ("Maximum2DDiameterColumn", diameters.column),
        ("Maximum2DDiameterRow", diameters.row),
        ("Maximum2DDiameterSlice", diameters.slice),
        ("Maximum3DDiameter", diameters.max_3d),
        ("MeshVolume", volume),
        ("MinorAxisLength", axis_length(minor)),
        // pyradiomics' own `** (1.0 / 3.0)`; `cbrt` (compiler-builtins' libm) asks the CPU for
        // FMA with `cpuid` on its first call, a VM exit worth 2% of a small case's measuring.
        ("Sphericity", (36.0 * std::f64::consts::PI * volume * volume).powf(1.0 / 3.0) / area),
        ("SurfaceArea", area),
        ("SurfaceVolumeRatio", area / volume),
        // pyradiomics' order of the factors, `Np * (z * x * y)`.
        ("VoxelVolume", roi.voxel_count as f64 * (sz * sx * sy)),
    ]
}

/// Eigenvalues of the covariance (normalised by `N`) of the ROI voxel centres' coordinates in mm,
/// ascending. Small negative rounding errors (above -1e-10) become 0, as in pyradiomics; larger
/// negative values stay, and the features built on them are NaN.
///
/// The sums of indices and of their products are exact integers, so the covariance is
/// `s_a s_b (N S_ab - S_a S_b) / N²` with a single rounding in the bracket.
fn principal_moments(roi: &Roi) -> [f64; 3] {
    let [nx, ny, nz] = roi.size;
    let mut n = 0u64;
    let mut sum = [0u64; 3];
    // xx, yy, zz, xy, xz, yz
    let mut products = [0u64; 6];
    if nx > 0 {
        for (row, inside) in roi.mask.chunks(nx).take(ny * nz).enumerate() {
            let (y, z) = ((row % ny) as u64, (row / ny) as u64);
            let (mut count, mut sx, mut sxx) = (0u64, 0u64, 0u64);
            for (x, _) in inside.iter().enumerate().filter(|(_, m)| **m) {
                let x = x as u64;
                count += 1;
                sx += x;
                sxx += x * x;
            }
            n += count;
            sum[0] += sx;
            sum[1] += count * y;
            sum[2] += count * z;
            products[0] += sxx;
            products[1] += count * y * y;
            products[2] += count * z * z;
            products[3] += sx * y;
            products[4] += sx * z;
            products[5] += count * y * z;
        }
    }
    let nf = n as f64;
    let s = roi.spacing;
    let moment = |a: usize, b: usize, product: u64| {
        let centred = i128::from(n) * i128::from(product) - i128::from(sum[a]) * i128::from(sum[b]);
        s[a] * s[b] * (centred as f64 / nf / nf)
    };
    let (xx, yy, zz) = (moment(0, 0, products[0]), moment(1, 1, products[1]), moment(2, 2, products[2]));
    let (xy, xz, yz) = (moment(0, 1, products[3]), moment(0, 2, products[4]), moment(1, 2, products[5]));
    let covariance = Matrix3::new(xx, xy, xz, xy, yy, yz, xz, yz, zz);
    let mut eigenvalues: [f64; 3] = SymmetricEigen::new(covariance).eigenvalues.into();
    for lambda in &mut eigenvalues {
        if *lambda < 0.0 && *lambda > -1e-10 {
            *lambda = 0.0;
        }
    }
    eigenvalues.sort_unstable_by(f64::total_cmp);
    eigenvalues
}

/// The ROI mask with one voxel of background around it, x fastest, as 0/1.
struct Padded {
    /// The ROI's size plus 2 along each axis.
    size: [usize; 3],
    data: Vec<u8>,
}

impl Padded {
    /// `mask` is x fastest over `size`; missing entries count as background.
    fn new(size: [usize; 3], mask: &[bool]) -> Padded {
        let padded = size.map(|n| n + 2);
        let mut data = vec![0u8; padded.iter().product()];
        if size[0] > 0 {
            for (row, values) in mask.chunks(size[0]).take(size[1] * size[2]).enumerate() {
                let (y, z) = (row % size[1] + 1, row / size[1] + 1);
                let start = padded[0] * (y + padded[1] * z) + 1;
                for (cell, &inside) in data[start..start + values.len()].iter_mut().zip(values) {
                    *cell = u8::from(inside);
                }
            }
        }
        Padded { size: padded, data }
    }

    /// Whether the 9 voxels from `x` of the first row are all equal and the other rows equal it
    /// there: then the 8 cubes or edges starting at `x..x + 8` are all inside or all outside.
    #[inline]
    fn flat(rows: &[&[u8]], x: usize) -> bool {
        let word = |row: &[u8], at: usize| row.get(at..at + 8).and_then(|b| <[u8; 8]>::try_from(b).ok());
        let (Some(first), Some(next)) = (word(rows[0], x), word(rows[0], x + 1)) else { return false };
        first == next && rows[1..].iter().all(|r| word(r, x) == Some(first) && word(r, x + 1) == Some(next))
    }

    /// The voxels of row `y` of slice `z`.
    #[inline]
    fn row(&self, y: usize, z: usize) -> &[u8] {
        let start = self.size[0] * (y + self.size[1] * z);
        &self.data[start..start + self.size[0]]
    }
}
