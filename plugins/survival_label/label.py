"""survival.label: a binary survival label at a horizon, with censoring.

Reads the flow request (JSON on stdin, also at $FLOW_REQUEST), writes one CSV row per patient:
time_days from the CT scan to death (event 1) or to the last day known alive (event 0), and
label 1 when death came within `horizon_days`, 0 when the patient was known alive beyond it.
Patients followed for less than the horizon without dying are censored: their outcome at the
horizon is unknown, so they are left out (or kept with an empty label). Standard library only.
"""

import csv
import json
import sys
from datetime import date


def parse_date(text, what, case, line):
    text = (text or "").strip()
    if text in ("", "N/A", "Not Collected", "NA"):
        return None
    try:
        month, day, year = (int(part) for part in text.split("/"))
        return date(year, month, day)
    except ValueError:
        sys.exit(f"line {line} ({case}): {what} '{text}' is not a date like 4/13/1994")


def main():
    request = json.load(sys.stdin)
    params = request["params"]
    horizon = params["horizon_days"]
    if horizon <= 0:
        sys.exit(f"horizon_days is {horizon}: it must be a positive number of days")
    source = request["inputs"]["table"][0]
    target = request["outputs"]["labels"]

    rows, censored, undated = [], 0, 0
    with open(source, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        needed = ["Case ID", "Survival Status", "CT Date", "Date of Death", "Date of Last Known Alive"]
        missing = [column for column in needed if column not in (reader.fieldnames or [])]
        if missing:
            sys.exit(f"{source}: no column(s) {', '.join(missing)}")
        for line, row in enumerate(reader, start=2):
            case = row["Case ID"].strip()
            ct = parse_date(row["CT Date"], "CT Date", case, line)
            dead = row["Survival Status"].strip().lower() == "dead"
            end = parse_date(row["Date of Death"] if dead else row["Date of Last Known Alive"],
                             "Date of Death" if dead else "Date of Last Known Alive", case, line)
            if ct is None or end is None:
                undated += 1
                continue
            days = (end - ct).days
            if dead and days <= horizon:
                label = 1
            elif days >= horizon:
                label = 0
            else:
                censored += 1
                if not params["keep_censored"]:
                    continue
                label = ""
            rows.append((case, days, int(dead), label))

    with open(target, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["case_id", "time_days", "event", "label"])
        writer.writerows(sorted(rows))
    positives = sum(1 for row in rows if row[3] == 1)
    print(f"{len(rows)} patients labelled at {horizon} days ({positives} positive); "
          f"{censored} censored before the horizon, {undated} without dates")


if __name__ == "__main__":
    main()
