"""KIND_NAME: how many lines of a text file contain a word.

flow sends the node's request as JSON on stdin: params (defaults filled in), inputs (port ->
list of paths), outputs (port -> the path to write), threads, scratch. Exit non-zero with a
message on stderr to fail the node; what is printed goes to the node's log (`flow log NODE`).
"""
import json
import sys

request = json.load(sys.stdin)
word = request["params"]["word"]
with open(request["inputs"]["text"][0]) as source:
    lines = source.read().splitlines()
count = sum(1 for line in lines if word in line)
with open(request["outputs"]["counts"], "w") as target:
    target.write(f"word,lines\n{word},{count}\n")
print(f"{count} of {len(lines)} lines contain '{word}'")
