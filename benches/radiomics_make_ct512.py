"""A 512 x 512 x 300 int16 CT with a large (35 mm radius, 366,131 voxels) and a small (5 mm,
1,051 voxels) tumour, as gzip NRRD, for the real-size radiomics comparison (issue 15).

    python benches/radiomics_make_ct512.py DATA_DIR     (needs numpy and SimpleITK)

Writes DATA_DIR/ct512_image.nrrd, ct512_large_label.nrrd and ct512_small_label.nrrd; seeded, so
the same files every time.
"""
import sys
import numpy as np, SimpleITK as sitk
OUT = sys.argv[1] if len(sys.argv) > 1 else '.'
rng = np.random.default_rng(7)
nz, ny, nx = 300, 512, 512
z, y, x = np.ogrid[:nz, :ny, :nx]
# lung-like background with smooth variation and noise, int16 HU
img = (-850 + 30*np.sin(x/37.0) + 20*np.cos(y/23.0) + 10*np.sin(z/11.0)).astype(np.float32)
img = img + rng.normal(0, 20, size=(nz, ny, nx)).astype(np.float32)
spacing = (0.7, 0.7, 1.0)
def ball(cz, cy, cx, r_mm):
    return ((z-cz)*spacing[2])**2 + ((y-cy)*spacing[1])**2 + ((x-cx)*spacing[0])**2 <= r_mm**2
large = ball(150, 256, 256, 35.0)
small = ball(80, 150, 380, 5.0)
img[large] = 30 + rng.normal(0, 40, size=large.sum())
img[small] = 20 + rng.normal(0, 30, size=small.sum())
im = sitk.GetImageFromArray(np.clip(img, -1024, 3071).astype(np.int16)); im.SetSpacing(spacing)
sitk.WriteImage(im, f'{OUT}/ct512_image.nrrd', True)
for name, m in [('large', large), ('small', small)]:
    mk = sitk.GetImageFromArray(m.astype(np.uint8)); mk.SetSpacing(spacing)
    sitk.WriteImage(mk, f'{OUT}/ct512_{name}_label.nrrd', True)
print(large.sum(), small.sum())
