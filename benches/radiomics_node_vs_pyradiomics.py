"""A whole one-patient `imaging.radiomics` node against pyradiomics 3.0.1 on the same case, in
one script, interleaved (docs/benchmarks.md, "The node's own fixed cost"):

    python benches/radiomics_node_vs_pyradiomics.py FLOW DATA_DIR [CASE] [--rounds N]

FLOW is a release `flow` binary, DATA_DIR holds pyradiomics' test cases as for
radiomics_pyradiomics_times.py, CASE defaults to breast1. Each round times pyradiomics'
`RadiomicsFeatureExtractor().execute(image, mask)` five times in this (warm) process, then runs
`flow run --force radiomics` five times on a one-node workflow in a temporary project (a new
process each time, as a user runs it) and takes from each run's record the node's seconds (engine
included: input check, hashing the outputs into the store) and from its log the time measuring
and the time writing the feature table. Prints the medians over all rounds and their ratio.
"""
import json, logging, os, shutil, statistics, subprocess, sys, tempfile, time

args = sys.argv[1:]
rounds = 6
if '--rounds' in args:
    at = args.index('--rounds')
    rounds = int(args[at + 1])
    del args[at:at + 2]
if len(args) < 2:
    sys.exit(__doc__)
flow, data = os.path.abspath(args[0]), os.path.abspath(args[1])
case = args[2] if len(args) > 2 else 'breast1'
image, mask = f'{data}/{case}_image.nrrd', f'{data}/{case}_label.nrrd'

from radiomics import featureextractor
logging.getLogger('radiomics').setLevel(logging.ERROR)
extractor = featureextractor.RadiomicsFeatureExtractor()

project = tempfile.mkdtemp(prefix='flow-node-bench-')
patient = os.path.join(project, 'cohort', case)
os.makedirs(patient)
shutil.copy(image, patient)
shutil.copy(mask, patient)
with open(os.path.join(patient, 'manifest.csv'), 'w') as f:
    f.write(f'subject,image,mask\n{case},{os.path.basename(image)},{os.path.basename(mask)}\n')
with open(os.path.join(project, 'flow.yaml'), 'w') as f:
    f.write(f'nodes:\n  radiomics:\n    uses: imaging.radiomics\n    in: {{ images: file:cohort/{case} }}\n')


def flow_run():
    subprocess.run([flow, '-q', '-C', project, 'run', 'flow.yaml', '--force', 'radiomics'], check=True,
                   stdout=subprocess.DEVNULL)
    runs = os.path.join(project, '.flow', 'runs')
    newest = max((n for n in os.listdir(runs) if n.endswith('.json')), key=lambda n: os.path.getmtime(f'{runs}/{n}'))
    node = json.load(open(f'{runs}/{newest}'))['nodes'][0]
    log = open(node['log']).read().split()
    # "1 patients measured, 0 skipped, in 1.1 ms on 1 threads" / "feature table written in 0.4 ms"
    return node['seconds'] * 1e3, float(log[6]), float(log[-2])


flow_run()  # the page cache and the store's first objects
pyrad, node, measuring, writing = [], [], [], []
for _ in range(rounds):
    for _ in range(5):
        started = time.perf_counter()
        extractor.execute(image, mask)
        pyrad.append((time.perf_counter() - started) * 1e3)
    for _ in range(5):
        seconds, measured, written = flow_run()
        node.append(seconds)
        measuring.append(measured)
        writing.append(written)
shutil.rmtree(project)

median = statistics.median
print(f'{case}: {len(pyrad)} runs each, interleaved in {rounds} rounds')
print(f'pyradiomics execute        median {median(pyrad):7.2f} ms  min {min(pyrad):7.2f}')
print(f'flow node (engine incl.)   median {median(node):7.2f} ms  min {min(node):7.2f}  '
      f'ratio {median(pyrad) / median(node):5.1f}x')
print(f'  measuring                median {median(measuring):7.2f} ms')
print(f'  writing the table        median {median(writing):7.2f} ms')
print(f'  measuring + writing      median {median(m + w for m, w in zip(measuring, writing)):7.2f} ms  '
      f'ratio {median(pyrad) / median([m + w for m, w in zip(measuring, writing)]):5.1f}x')
