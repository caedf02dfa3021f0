//! Synthetic CT crops and tumour masks, written as NIfTI-1 (`.nii.gz`), one folder per patient
//! with a one-row `manifest.csv`, so that each patient is one item of a mapped node.
//!
//! Each volume is a crop of a chest CT around the tumour, in Hounsfield units (int16) at
//! 0.7 x 0.7 x 2.5 mm: aerated lung near -850 HU with smooth density variation, vessels, a chest
//! wall (fat, muscle, ribs) on the lateral side, a soft-tissue tumour, and scanner noise on
//! everything. The tumour's size, lobulation and internal heterogeneity come from the patient's
//! latent imaging factors, the quantities that radiomics shape, first-order and texture features
//! measure; the rest comes from the patient's own random stream.
//!
//! Voxel arrays are in NIfTI (Fortran) order: x fastest, then y, then z.

use std::f64::consts::{PI, TAU};
use std::fs;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use ndarray::{Array3, ShapeBuilder};
use nifti::NiftiHeader;
use nifti::writer::WriterOptions;

use crate::cohort::{Latent, Patient};
use crate::rng::{Draws, VoxelNoise, stream};
use crate::{CohortSpec, Site, SynthError};

/// Voxel spacing in mm (x, y, z): a thin-section chest CT.
pub const SPACING_MM: [f64; 3] = [0.7, 0.7, 2.5];

/// Header of the manifest the imaging nodes read.
pub const MANIFEST_HEADER: &str = "subject,image,mask";
/// File names inside a patient's folder.
pub const IMAGE_FILE: &str = "image.nii.gz";
pub const MASK_FILE: &str = "mask.nii.gz";

const AIR_FLOOR_HU: f64 = -1024.0;
const HU_CEILING: f64 = 3071.0;
const LUNG_HU: f64 = -850.0;
const TUMOUR_HU: f64 = 30.0;
const VESSEL_HU: f64 = 35.0;
const MUSCLE_HU: f64 = 45.0;
const FAT_HU: f64 = -95.0;
const BONE_HU: f64 = 550.0;
/// Quantum noise of the scanner, on every voxel.
const NOISE_SD_HU: f64 = 20.0;
/// Distance over which the tumour edge blends into its surroundings (partial volume).
const EDGE_MM: f64 = 1.0;
/// Free space kept between the tumour and the crop's border.
const MARGIN_MM: f64 = 2.0;

/// One lobe of the tumour surface: `cos(frequency * π * (u · direction) + phase)`.
struct Lobe {
    direction: [f64; 3],
    frequency: f64,
    phase: f64,
    weight: f64,
}

/// Everything that decides one volume.
struct Scene {
    size: [usize; 3],
    centre_mm: [f64; 3],
    radius_mm: f64,
    /// Ellipsoid semi-axis factors (geometric mean 1).
    axes: [f64; 3],
    /// Relative amplitude of the surface lobulation.
    lobulation: f64,
    lobes: Vec<Lobe>,
    /// Standard deviation of the tumour's internal texture, in HU.
    texture_sd: f64,
    /// How much darker the necrotic core is, in HU (0 for homogeneous tumours).
    necrosis_hu: f64,
    vessels: Vec<([f64; 3], [f64; 3], f64)>,
    wall_on_high_x: bool,
    wall_mm: f64,
    wall_phases: [f64; 3],
    rib_phase_mm: f64,
    noise_seed: u64,
}

/// A synthesised volume: HU image and tumour mask, x fastest.
pub struct Volume {
    pub size: [usize; 3],
    pub image: Vec<i16>,
    pub mask: Vec<u8>,
}

impl Volume {
    pub fn mask_voxels(&self) -> usize {
        self.mask.iter().filter(|&&m| m == 1).count()
    }
}

fn unit_vector(draws: &mut Draws) -> [f64; 3] {
    loop {
        let v = [draws.normal(), draws.normal(), draws.normal()];
        let norm = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
        if norm > 1e-6 {
            return [v[0] / norm, v[1] / norm, v[2] / norm];
        }
    }
}

/// The latent factors fix size, lobulation and heterogeneity; the patient's volume stream fixes
/// everything else.
fn scene(spec: &CohortSpec, patient: &Patient) -> Scene {
    let site_offset = match patient.site {
        Site::R01 => 0,
        Site::Amc => 1 << 32,
    };
    let mut draws = Draws::new(spec.seed, stream::VOLUME + site_offset + patient.site_index as u64);
    let latent: &Latent = &patient.latent;
    let size = spec.image_size;
    let half = [0, 1, 2].map(|axis| size[axis] as f64 * SPACING_MM[axis] / 2.0);

    let lobulation = (0.18 * (0.55 * latent.irregularity).exp()).clamp(0.03, 0.5);
    let mut axes = [draws.range(0.85, 1.15), draws.range(0.85, 1.15), draws.range(0.85, 1.15)];
    let mean = (axes[0] * axes[1] * axes[2]).cbrt();
    axes = axes.map(|a| a / mean);
    let mut lobes: Vec<Lobe> = (0..6)
        .map(|_| Lobe {
            direction: unit_vector(&mut draws),
            frequency: draws.range(1.5, 3.5),
            phase: draws.range(0.0, TAU),
            weight: draws.range(0.5, 1.0),
        })
        .collect();
    let total: f64 = lobes.iter().map(|l| l.weight).sum();
    for lobe in &mut lobes {
        lobe.weight /= total;
    }

    // Median 8.5 mm (about 2,100 voxels); a tumour too big for the crop is shrunk to fit.
    let extent = axes.iter().fold(0.0f64, |m, a| m.max(*a)) * (1.0 + lobulation);
    let room = half.iter().fold(f64::INFINITY, |m, h| m.min(*h)) - MARGIN_MM;
    let radius_mm = (8.5 * (0.3 * latent.tumour_size).exp()).min(room / extent).max(1.0);
    let reach = radius_mm * extent;
    let centre_mm = [0, 1, 2].map(|axis| {
        let slack = (half[axis] - MARGIN_MM - reach).max(0.0);
        // In-plane the tumour stays near the centre of the crop, along z it may sit anywhere.
        let share = if axis == 2 { 0.8 } else { 0.25 };
        draws.range(-1.0, 1.0) * slack * share
    });

    let texture_sd = (28.0 * (0.5 * latent.heterogeneity).exp()).clamp(8.0, 110.0);
    let necrosis_hu = 30.0 * latent.heterogeneity.max(0.0);

    let n_vessels = 4 + draws.below(5);
    let vessels = (0..n_vessels)
        .map(|_| {
            let point = [0, 1, 2].map(|axis| draws.range(-half[axis], half[axis]));
            (point, unit_vector(&mut draws), draws.range(0.8, 2.0))
        })
        .collect();
    // Left-lung tumours (LUL, LLL, lingula) meet the chest wall on the patient's left, which is
    // +x in NIfTI's RAS orientation.
    let wall_on_high_x = patient.record.location >= 3;
    let wall_mm = draws.range(4.0, 8.0);
    let wall_phases = [draws.range(0.0, TAU), draws.range(0.0, TAU), draws.range(0.0, TAU)];
    let rib_phase_mm = draws.range(0.0, 24.0);
    let noise_seed = draws.next_u64();
    Scene {
        size,
        centre_mm,
        radius_mm,
        axes,
        lobulation,
        lobes,
        texture_sd,
        necrosis_hu,
        vessels,
        wall_on_high_x,
        wall_mm,
        wall_phases,
        rib_phase_mm,
        noise_seed,
    }
}

impl Scene {
    /// Tumour surface radius in the direction `u` (a unit vector).
    fn surface_radius(&self, u: [f64; 3]) -> f64 {
        let ellipsoid = 1.0
            / ((u[0] / self.axes[0]).powi(2) + (u[1] / self.axes[1]).powi(2) + (u[2] / self.axes[2]).powi(2)).sqrt();
        let lobes: f64 = self
            .lobes
            .iter()
            .map(|lobe| {
                let along = u[0] * lobe.direction[0] + u[1] * lobe.direction[1] + u[2] * lobe.direction[2];
                lobe.weight * (lobe.frequency * PI * along + lobe.phase).cos()
            })
            .sum();
        self.radius_mm * ellipsoid * (1.0 + self.lobulation * lobes)
    }
}

/// Views a block of `dims` as `[outer][dims[axis]][inner]`: the sizes of the three parts.
fn split_axis(dims: [usize; 3], axis: usize) -> (usize, usize, usize) {
    let inner: usize = dims[..axis].iter().product();
    let outer: usize = dims[axis + 1..].iter().product();
    (outer, dims[axis], inner)
}

/// Linear interpolation along `axis`, from lattice points every `step` samples to `length`
/// samples.
fn upsample(values: &[f64], dims: [usize; 3], axis: usize, length: usize, step: usize) -> (Vec<f64>, [usize; 3]) {
    let (outer, n, inner) = split_axis(dims, axis);
    let mut out_dims = dims;
    out_dims[axis] = length;
    let mut out = vec![0.0; outer * length * inner];
    for o in 0..outer {
        for i in 0..length {
            let cell = (i / step).min(n - 2);
            let frac = (i - cell * step) as f64 / step as f64;
            let low = (o * n + cell) * inner;
            let high = low + inner;
            let target = (o * length + i) * inner;
            for j in 0..inner {
                out[target + j] = values[low + j] + frac * (values[high + j] - values[low + j]);
            }
        }
    }
    (out, out_dims)
}

/// A smooth random field: Gaussian values on a coarse lattice (every `step` voxels), trilinearly
/// interpolated (as three one-axis passes: cheaper than eight lookups per voxel). Low-frequency
/// density variation of the lung.
fn smooth_field(size: [usize; 3], step: [usize; 3], sd: f64, noise: &mut VoxelNoise) -> Vec<f64> {
    let mut dims = [0, 1, 2].map(|axis| size[axis] / step[axis] + 2);
    let mut values: Vec<f64> = (0..dims[0] * dims[1] * dims[2]).map(|_| sd * noise.normal()).collect();
    for axis in [2, 1, 0] {
        (values, dims) = upsample(&values, dims, axis, size[axis], step[axis]);
    }
    values
}

/// In-place box blur of width 3 along one axis of a `dims` block (edges replicated).
fn box_blur(values: &mut [f64], dims: [usize; 3], axis: usize) {
    let (outer, n, inner) = split_axis(dims, axis);
    if n < 2 {
        return;
    }
    let mut line = vec![0.0; n];
    for o in 0..outer {
        for j in 0..inner {
            let at = |i: usize| (o * n + i) * inner + j;
            for (i, slot) in line.iter_mut().enumerate() {
                *slot = values[at(i)];
            }
            for i in 0..n {
                values[at(i)] = (line[i.saturating_sub(1)] + line[i] + line[(i + 1).min(n - 1)]) / 3.0;
            }
        }
    }
}

/// Tumour texture: white noise blurred twice in-plane and once along z (the 2.5 mm slices
/// already average), rescaled to unit variance. The variance after the blurs is
/// (19/81)² · (1/3) for the interior, hence the factor.
fn texture_field(dims: [usize; 3], noise: &mut VoxelNoise) -> Vec<f64> {
    let mut values: Vec<f64> = (0..dims[0] * dims[1] * dims[2]).map(|_| noise.normal()).collect();
    for axis in [0, 0, 1, 1, 2] {
        box_blur(&mut values, dims, axis);
    }
    let scale = 1.0 / ((19.0 / 81.0) / 3.0f64.sqrt());
    for value in &mut values {
        *value *= scale;
    }
    values
}

/// Millimetre coordinate of each voxel index along each axis, from the crop's centre.
fn coordinates(size: [usize; 3]) -> [Vec<f64>; 3] {
    [0, 1, 2]
        .map(|axis| (0..size[axis]).map(|i| (i as f64 - (size[axis] as f64 - 1.0) / 2.0) * SPACING_MM[axis]).collect())
}

/// Vessels: straight tubes with a partial-volume rim. For each row of constant y and z the
/// squared distance to the axis is a quadratic in x, so only the voxels near the tube are
/// visited.
fn paint_vessels(scene: &Scene, hu: &mut [f64], mm: &[Vec<f64>; 3]) {
    let [nx, ny, nz] = scene.size;
    for &(point, d, radius) in &scene.vessels {
        let reach = radius + 0.5 * 0.7;
        // dist²(t) = a t² + b t + c for t = x in mm, with w = p - point.
        let a = 1.0 - d[0] * d[0];
        for z in 0..nz {
            for y in 0..ny {
                let w = [mm[0][0] - point[0], mm[1][y] - point[1], mm[2][z] - point[2]];
                let wd = w[0] * d[0] + w[1] * d[1] + w[2] * d[2];
                let b = 2.0 * (w[0] - wd * d[0]);
                let c = w[0] * w[0] + w[1] * w[1] + w[2] * w[2] - wd * wd;
                // Offsets (in mm from the row's first voxel) where dist² <= reach².
                let (low, high) = if a < 1e-9 {
                    if c <= reach * reach { (0.0, f64::INFINITY) } else { continue }
                } else {
                    let disc = b * b - 4.0 * a * (c - reach * reach);
                    if disc < 0.0 {
                        continue;
                    }
                    ((-b - disc.sqrt()) / (2.0 * a), (-b + disc.sqrt()) / (2.0 * a))
                };
                let first = (low / SPACING_MM[0]).floor().max(0.0) as usize;
                let last = ((high / SPACING_MM[0]).ceil().min(nx as f64 - 1.0)).max(-1.0);
                if last < 0.0 {
                    continue;
                }
                for x in first..=(last as usize) {
                    let t = mm[0][x] - mm[0][0];
                    let distance = (a * t * t + b * t + c).max(0.0).sqrt();
                    let weight = ((radius - distance) / 0.7 + 0.5).clamp(0.0, 1.0);
                    let index = x + nx * (y + ny * z);
                    hu[index] += weight * (VESSEL_HU - hu[index]);
                }
            }
        }
    }
}

/// Chest wall on the lateral side: fat outside, muscle inside, ribs every 24 mm along z. Its
/// inner boundary undulates in y and z.
fn paint_wall(scene: &Scene, hu: &mut [f64], mm: &[Vec<f64>; 3]) {
    let [nx, ny, nz] = scene.size;
    for z in 0..nz {
        let rib = (mm[2][z] + scene.rib_phase_mm).rem_euclid(24.0) < 8.0;
        let along_z = 1.5 * (TAU * mm[2][z] / 90.0 + scene.wall_phases[1]).sin();
        for y in 0..ny {
            let wall = scene.wall_mm + 2.5 * (TAU * mm[1][y] / 60.0 + scene.wall_phases[0]).sin() + along_z;
            for from_edge_voxels in 0..nx {
                let from_edge = from_edge_voxels as f64 * SPACING_MM[0];
                if from_edge >= wall {
                    break;
                }
                let x = if scene.wall_on_high_x { nx - 1 - from_edge_voxels } else { from_edge_voxels };
                hu[x + nx * (y + ny * z)] = if from_edge < 0.45 * wall {
                    FAT_HU
                } else if rib && from_edge > 0.55 * wall && from_edge < 0.9 * wall {
                    BONE_HU
                } else {
                    MUSCLE_HU
                };
            }
        }
    }
}

/// Synthesises the CT crop and tumour mask of one patient.
pub fn synthesize(spec: &CohortSpec, patient: &Patient) -> Volume {
    let scene = scene(spec, patient);
    let size = scene.size;
    let [nx, ny, nz] = size;
    let mm = coordinates(size);
    let mut noise = VoxelNoise::new(scene.noise_seed);
    let mut hu = smooth_field(size, [6, 6, 3], 25.0, &mut noise);
    for value in &mut hu {
        *value += LUNG_HU;
    }
    paint_vessels(&scene, &mut hu, &mm);
    paint_wall(&scene, &mut hu, &mm);

    // The tumour, within its bounding box.
    let mut mask = vec![0u8; nx * ny * nz];
    let reach = scene.radius_mm * scene.axes.iter().fold(0.0f64, |m, a| m.max(*a)) * (1.0 + scene.lobulation) + EDGE_MM;
    let bounds = [0, 1, 2].map(|axis| {
        let centre = scene.centre_mm[axis] / SPACING_MM[axis] + (size[axis] as f64 - 1.0) / 2.0;
        let half = reach / SPACING_MM[axis];
        let low = (centre - half).floor().max(0.0) as usize;
        let high = ((centre + half).ceil() as usize).min(size[axis] - 1);
        (low, high)
    });
    let box_dims = [0, 1, 2].map(|axis| bounds[axis].1 - bounds[axis].0 + 1);
    let texture = texture_field(box_dims, &mut noise);
    for z in bounds[2].0..=bounds[2].1 {
        for y in bounds[1].0..=bounds[1].1 {
            for x in bounds[0].0..=bounds[0].1 {
                let d = [mm[0][x] - scene.centre_mm[0], mm[1][y] - scene.centre_mm[1], mm[2][z] - scene.centre_mm[2]];
                let distance = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt();
                if distance > reach {
                    continue;
                }
                let surface = if distance > 1e-9 {
                    scene.surface_radius([d[0] / distance, d[1] / distance, d[2] / distance])
                } else {
                    scene.radius_mm
                };
                let signed = distance - surface;
                let index = x + nx * (y + ny * z);
                if signed <= 0.0 {
                    mask[index] = 1;
                }
                let weight = (0.5 - signed / EDGE_MM).clamp(0.0, 1.0);
                if weight == 0.0 {
                    continue;
                }
                let local = (x - bounds[0].0) + box_dims[0] * ((y - bounds[1].0) + box_dims[1] * (z - bounds[2].0));
                // A darker necrotic core fading out between 45% and 65% of the radius.
                let core = ((0.65 - distance / surface) / 0.2).clamp(0.0, 1.0);
                let tumour = TUMOUR_HU + scene.texture_sd * texture[local] - scene.necrosis_hu * core;
                hu[index] += weight * (tumour - hu[index]);
            }
        }
    }

    let image = hu
        .iter()
        .map(|value| (value + NOISE_SD_HU * noise.normal()).round().clamp(AIR_FLOOR_HU, HU_CEILING) as i16)
        .collect();
    Volume { size, image, mask }
}

/// NIfTI header with the spacing, millimetre units and a centred scanner-space affine
/// (qform and sform agree, so every reader finds the same geometry).
fn header(size: [usize; 3], description: &str) -> NiftiHeader {
    let spacing = SPACING_MM.map(|s| s as f32);
    let origin = [0, 1, 2].map(|axis| -((size[axis] as f32 - 1.0) / 2.0) * spacing[axis]);
    let mut descrip = vec![0u8; 80];
    let text = description.as_bytes();
    descrip[..text.len().min(79)].copy_from_slice(&text[..text.len().min(79)]);
    NiftiHeader {
        pixdim: [1.0, spacing[0], spacing[1], spacing[2], 1.0, 1.0, 1.0, 1.0],
        xyzt_units: 2, // NIFTI_UNITS_MM
        qform_code: 1,
        sform_code: 1,
        quatern_b: 0.0,
        quatern_c: 0.0,
        quatern_d: 0.0,
        quatern_x: origin[0],
        quatern_y: origin[1],
        quatern_z: origin[2],
        srow_x: [spacing[0], 0.0, 0.0, origin[0]],
        srow_y: [0.0, spacing[1], 0.0, origin[1]],
        srow_z: [0.0, 0.0, spacing[2], origin[2]],
        descrip,
        ..NiftiHeader::default()
    }
}

fn volume_array<T>(size: [usize; 3], data: Vec<T>) -> Result<Array3<T>, SynthError> {
    Array3::from_shape_vec((size[0], size[1], size[2]).f(), data)
        .map_err(|e| SynthError::Internal(format!("volume shape {size:?}: {e}")))
}

/// miniz_oxide level 1 (fast; CT noise compresses little at any level).
const DEFLATE_LEVEL: u8 = 1;

/// Gzip (RFC 1952) around a raw deflate stream from miniz_oxide: mtime 0, no file name,
/// XFL 4 (fastest), OS 255 (unknown). flate2 is not used here on purpose: its backend is chosen
/// by feature unification across the whole build (polars switches it to zlib-rs), and different
/// backends compress the same bytes differently, so the same cohort would change bytes between
/// `cargo test -p flow-synth` and the `flow` binary. Pinning one deflate keeps outputs identical
/// in every build.
fn gzip(data: &[u8]) -> Vec<u8> {
    let deflated = miniz_oxide::deflate::compress_to_vec(data, DEFLATE_LEVEL);
    let mut out = Vec::with_capacity(deflated.len() + 18);
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 0xff]);
    out.extend_from_slice(&deflated);
    out.extend_from_slice(&crc32fast::hash(data).to_le_bytes());
    // ISIZE is the length modulo 2^32 by definition.
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

/// Writes `path` (ending in `.nii.gz`): nifti's writer encodes an uncompressed `.nii` beside it,
/// which is then gzipped by `gzip` and removed.
fn write_nii_gz(path: &Path, encode: impl FnOnce(&Path) -> Result<(), nifti::NiftiError>) -> Result<(), SynthError> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("volume.nii.gz");
    let stem = name.strip_suffix(".nii.gz").unwrap_or(name);
    // No dot in the temporary stem: nifti's writer replaces the last extension with "nii".
    let plain = path.with_file_name(format!("{}-partial.nii", stem.replace('.', "_")));
    encode(&plain).map_err(|source| SynthError::Nifti { path: path.to_path_buf(), source })?;
    let bytes = fs::read(&plain).map_err(|e| SynthError::io(&plain, e))?;
    fs::remove_file(&plain).map_err(|e| SynthError::io(&plain, e))?;
    fs::write(path, gzip(&bytes)).map_err(|e| SynthError::io(path, e))
}

fn write_image(path: &Path, volume_size: [usize; 3], data: Vec<i16>) -> Result<(), SynthError> {
    let array = volume_array(volume_size, data)?;
    let header = header(volume_size, "flow-synth CT, HU (synthetic)");
    write_nii_gz(path, |plain| WriterOptions::new(plain).reference_header(&header).write_nifti(&array))
}

fn write_mask(path: &Path, volume_size: [usize; 3], data: Vec<u8>) -> Result<(), SynthError> {
    let array = volume_array(volume_size, data)?;
    let header = header(volume_size, "flow-synth tumour mask (synthetic)");
    write_nii_gz(path, |plain| WriterOptions::new(plain).reference_header(&header).write_nifti(&array))
}

/// What was written for one subject.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImagingRecord {
    pub subject: String,
    /// Paths relative to the imaging directory.
    pub image: String,
    pub mask: String,
    pub mask_voxels: usize,
}

/// Writes a folder `ID/` for every patient with imaging: `image.nii.gz`, `mask.nii.gz` and
/// `manifest.csv` (subject,image,mask; one row, paths relative to the folder). Each folder is
/// self-contained, so a node can map over the patients and measure one folder per item; no
/// cohort-wide file exists that one new patient would change. With no imaging, `dir` is left
/// empty. Volumes are independent, so `threads` workers take them in any order without
/// changing a byte. `cancelled` is polled between volumes.
pub fn write_imaging(
    spec: &CohortSpec,
    patients: &[Patient],
    dir: &Path,
    threads: usize,
    cancelled: &(dyn Fn() -> bool + Sync),
) -> Result<Vec<ImagingRecord>, SynthError> {
    write_each(spec, patients, dir, threads, cancelled, write_subject)
}

/// The same volumes as [`write_imaging`] as a DICOM collection (see [`crate::dicom`]): no
/// manifest, since finding the series and their segmentations is the reader's job.
pub fn write_imaging_dicom(
    spec: &CohortSpec,
    patients: &[Patient],
    dir: &Path,
    threads: usize,
    cancelled: &(dyn Fn() -> bool + Sync),
) -> Result<Vec<ImagingRecord>, SynthError> {
    write_each(spec, patients, dir, threads, cancelled, crate::dicom::write_subject)
}

type WriteSubject = fn(&CohortSpec, &Patient, &Path) -> Result<ImagingRecord, SynthError>;

fn write_each(
    spec: &CohortSpec,
    patients: &[Patient],
    dir: &Path,
    threads: usize,
    cancelled: &(dyn Fn() -> bool + Sync),
    write_subject: WriteSubject,
) -> Result<Vec<ImagingRecord>, SynthError> {
    let subjects: Vec<&Patient> =
        if spec.imaging { patients.iter().filter(|p| p.has_imaging).collect() } else { vec![] };
    let records: Vec<Mutex<Option<ImagingRecord>>> = subjects.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let first_error: Mutex<Option<SynthError>> = Mutex::new(None);
    let workers = threads.clamp(1, subjects.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(patient) = subjects.get(index) else { break };
                    // Another worker failed: stop taking volumes.
                    if first_error.lock().map(|e| e.is_some()).unwrap_or(true) {
                        break;
                    }
                    let outcome =
                        if cancelled() { Err(SynthError::Cancelled) } else { write_subject(spec, patient, dir) };
                    match outcome {
                        Ok(record) => {
                            if let Ok(mut slot) = records[index].lock() {
                                *slot = Some(record);
                            }
                        }
                        Err(error) => {
                            if let Ok(mut slot) = first_error.lock() {
                                slot.get_or_insert(error);
                            }
                            break;
                        }
                    }
                }
            });
        }
    });
    if let Some(error) = first_error.into_inner().ok().flatten() {
        return Err(error);
    }
    let records: Vec<ImagingRecord> = records.into_iter().filter_map(|slot| slot.into_inner().ok().flatten()).collect();
    if records.len() != subjects.len() {
        return Err(SynthError::Internal("an imaging worker stopped without a result".into()));
    }
    Ok(records)
}

fn write_subject(spec: &CohortSpec, patient: &Patient, dir: &Path) -> Result<ImagingRecord, SynthError> {
    let volume = synthesize(spec, patient);
    let mask_voxels = volume.mask_voxels();
    let folder = dir.join(&patient.id);
    fs::create_dir_all(&folder).map_err(|e| SynthError::io(&folder, e))?;
    write_image(&folder.join(IMAGE_FILE), volume.size, volume.image)?;
    write_mask(&folder.join(MASK_FILE), volume.size, volume.mask)?;
    let manifest = folder.join("manifest.csv");
    let text = format!("{MANIFEST_HEADER}\n{},{IMAGE_FILE},{MASK_FILE}\n", patient.id);
    fs::write(&manifest, text).map_err(|e| SynthError::io(&manifest, e))?;
    Ok(ImagingRecord {
        subject: patient.id.clone(),
        image: format!("{}/{IMAGE_FILE}", patient.id),
        mask: format!("{}/{MASK_FILE}", patient.id),
        mask_voxels,
    })
}
