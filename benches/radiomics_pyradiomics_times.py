"""pyradiomics 3.0.1's side of the radiomics comparison (docs/benchmarks.md): each case's
`RadiomicsFeatureExtractor().execute(image, mask)` (default settings, 107 features) timed in one
warm process, median of 5 (3 for the 512 x 512 CT), with the process's peak RSS.

    python benches/radiomics_pyradiomics_times.py DATA_DIR [CASE ...]

DATA_DIR holds pyradiomics' test cases as `brain1_image.nrrd`/`brain1_label.nrrd` (from the
data/ folder of its 3.0.1 source package, `pip download --no-binary :all: --no-deps
--no-build-isolation pyradiomics==3.0.1`: brain1, brain2, breast1, lung1, lung2; and from its
repository, prostate_phantom_subvolume saved as
prostate_image.nrrd / prostate_label.nrrd) and the files of radiomics_make_ct512.py. flow's
side: `cargo bench -p flow-radiomics --bench extract -- --runs 20 IMAGE MASK ...`.
"""
import sys, time, logging, statistics, resource
from radiomics import featureextractor
logging.getLogger('radiomics').setLevel(logging.ERROR)
cases = [('brain1','brain1_image.nrrd','brain1_label.nrrd'),('brain2','brain2_image.nrrd','brain2_label.nrrd'),
         ('breast1','breast1_image.nrrd','breast1_label.nrrd'),('lung1','lung1_image.nrrd','lung1_label.nrrd'),
         ('lung2','lung2_image.nrrd','lung2_label.nrrd'),('prostate','prostate_image.nrrd','prostate_label.nrrd'),
         ('ct512 small','ct512_image.nrrd','ct512_small_label.nrrd'),('ct512 large','ct512_image.nrrd','ct512_large_label.nrrd')]
data = sys.argv[1] if len(sys.argv) > 1 else '.'
only = sys.argv[2:]
ex = featureextractor.RadiomicsFeatureExtractor()
for name, img, lab in cases:
    if only and name.split()[0] not in only and name not in only: continue
    runs = 5 if 'ct512' not in name else 3
    t = []
    for _ in range(runs):
        s = time.perf_counter(); ex.execute(f'{data}/{img}', f'{data}/{lab}'); t.append(time.perf_counter()-s)
    print(f'{name:12s} median {statistics.median(t)*1000:9.1f} ms  min {min(t)*1000:9.1f}  maxrss {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024:.0f} MB', flush=True)
