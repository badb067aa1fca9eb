"""One batch split into shards (cluster.py, `grade --shard`), merged by `autograder report`:
on this machine, on a one-node Slurm cluster started from Debian's packages, and as the
Kubernetes Indexed Job's manifest checked against the shard rule."""
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import variants
import yaml

from autograder import cli, cluster, feedback, report, results, submission
from autograder.batch import grade_all

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "gradient_descent"
AUTOGRADER = [sys.executable, "-m", "autograder.cli"]


def run(*args, env=None, timeout=600):
    return subprocess.run([*AUTOGRADER, *map(str, args)], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=timeout)


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """The shipped gradient_descent examples and a held batch of generated submissions (the
    known bugs), in one folder, graded once on this machine in one process."""
    subs = tmp_path_factory.mktemp("cluster-subs")
    for f in EXAMPLES.iterdir():
        shutil.copy(f, subs / f.name)
    for name in list(variants.BUGS)[:6]:
        variants.write(subs, f"held_{name}", variants.bug_variant(name))
    single = tmp_path_factory.mktemp("cluster-single")
    grade_all("gradient_descent", [subs], single, progress=False)
    return subs, single


def names(folder):
    return sorted(submission.name_of(p) for p in submission.find([folder]))


def test_the_shard_rule_is_stable_and_splits_a_batch_exactly(batch):
    subs, _ = batch
    every = names(subs)
    for n in (1, 2, 3, 7):
        parts = [[s for s in every if cluster.shard_of(s, n) == k] for k in range(n)]
        assert sorted(sum(parts, [])) == every  # each submission in exactly one shard
    # The same in another interpreter with another hash seed: the rule is no Python hash().
    code = f"from autograder import cluster; print([cluster.shard_of(s, 3) for s in {every!r}])"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True,
                           env={**os.environ, "PYTHONHASHSEED": "12345"}).stdout
    assert json.loads(other) == [cluster.shard_of(s, 3) for s in every]
    for bad in ("3/3", "-1/3", "1", "a/b", "0/0"):
        with pytest.raises(cluster.ShardError, match="K/N with 0 <= K < N"):
            cluster.parse_shard(bad)


def test_grade_list_prints_a_shards_submissions_and_grades_nothing(batch, tmp_path):
    subs, _ = batch
    listed = []
    for k in range(3):
        proc = run("grade", "gradient_descent", subs, "--shard", f"{k}/3", "--list", "--out", tmp_path / "out")
        assert proc.returncode == 0, proc.stderr
        listed.append(proc.stdout.split())
        assert listed[-1] == [s for s in names(subs) if cluster.shard_of(s, 3) == k]
    assert not (tmp_path / "out").exists()
    assert run("grade", "gradient_descent", subs, "--shard", "3/3").returncode == 2


def test_three_shards_at_once_into_one_folder_merge_into_the_single_run(batch, tmp_path):
    """Three shard processes grade into one shared folder at the same time; they write no
    gradebook or summary; `report` then gives the single run's grades.csv and pages."""
    subs, single = batch
    out = tmp_path / "shared"
    procs = [subprocess.Popen([*AUTOGRADER, "grade", "gradient_descent", str(subs), "--out", str(out),
                               "--shard", f"{k}/3", "--jobs", "1", "-q"], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for k in range(3)]
    try:
        outcomes = [p.communicate(timeout=900) for p in procs]
    finally:
        for p in procs:
            p.kill()
    assert [p.returncode for p in procs] == [0, 0, 0], [err for _, err in outcomes]
    assert not (out / report.GRADEBOOK).exists() and not (out / feedback.SUMMARY).exists()
    proc = run("report", out, "--submissions", subs)
    assert proc.returncode == 0, proc.stderr
    assert (out / report.GRADEBOOK).read_text() == (single / report.GRADEBOOK).read_text()
    for page in single.glob(f"*/{feedback.PAGE}"):
        assert (out / page.parent.name / feedback.PAGE).read_bytes() == page.read_bytes(), page.parent.name


def test_report_lists_submissions_no_shard_graded(batch, tmp_path):
    subs, single = batch
    partial = tmp_path / "partial"
    shutil.copytree(single, partial)
    gone = names(subs)[:2]
    for name in gone:
        shutil.rmtree(partial / name)
    proc = run("report", partial, "--submissions", subs)
    assert proc.returncode == 1
    assert f"not graded by any shard ({len(gone)}): {', '.join(gone)}" in proc.stderr
    assert (partial / report.GRADEBOOK).read_text().count("\n") == len(names(subs)) - len(gone) + 1


def test_report_refuses_to_merge_results_of_different_graders(batch, tmp_path, capsys):
    """A shard graded with other limits (or checks, or reference) cannot join the batch: the
    merge names what differs and writes nothing."""
    subs, single = batch
    other = tmp_path / "other"
    one = subs / "alice_reference.ipynb"
    assert cli.main(["grade", "gradient_descent", str(one), "--out", str(other), "--timeout", "17", "-q"]) == 0
    rest = tmp_path / "rest"
    shutil.copytree(single, rest)
    shutil.rmtree(rest / "alice_reference")
    dest = tmp_path / "merged"
    assert cli.main(["report", str(rest), str(other), "--out", str(dest)]) == 2
    err = capsys.readouterr().err
    assert "made by different graders" in err and "limits" in err and "checks" not in err.split("differ")[0]
    assert not dest.exists() or not (dest / report.GRADEBOOK).exists()
    # The checks are part of what is compared: a results.json claiming other checks is refused.
    path = rest / names(subs)[1] / results.RESULTS
    data = json.loads(path.read_text())
    data["extra_data"]["grader"]["checks"] = "0" * 16
    path.write_text(json.dumps(data))
    assert cli.main(["report", str(rest)]) == 2
    assert "checks" in capsys.readouterr().err


# -- Kubernetes: the manifest, checked against the rule (no cluster needed) ----------------------------

def test_kubernetes_indexed_job_grades_each_shard_once(batch, tmp_path):
    subs, _ = batch
    proc = run("cluster", "kubernetes", "gradient_descent", "--shards", "3", "--image", "registry.example/dl-ag:1",
               "--claim", "grading-data", "--dest", tmp_path / "k8s")
    assert proc.returncode == 0, proc.stderr
    job = yaml.safe_load((tmp_path / "k8s" / "grade-job.yaml").read_text())
    merge = yaml.safe_load((tmp_path / "k8s" / "merge-job.yaml").read_text())
    assert job["kind"] == merge["kind"] == "Job"
    spec = job["spec"]
    assert (spec["completionMode"], spec["completions"], spec["parallelism"]) == ("Indexed", 3, 3)
    [container] = spec["template"]["spec"]["containers"]
    assert container["image"] == "registry.example/dl-ag:1" and container["command"] == ["sh", "-c"]
    script = container["args"][0]
    assert '--shard "${JOB_COMPLETION_INDEX}/3"' in script
    assert merge["spec"]["template"]["spec"]["containers"][0]["command"][:3] == ["autograder", "report", "/data/graded"]
    # Run each pod's command as the pod would (its index in JOB_COMPLETION_INDEX, the data
    # volume at /data), listing rather than grading: every submission in exactly one pod.
    listed = []
    for index in range(3):
        command = script.replace("autograder grade", shlex.join(AUTOGRADER) + " grade", 1)
        command = command.replace("/data/submissions", shlex.quote(str(subs))).replace(
            "/data/graded", shlex.quote(str(tmp_path / "graded"))).replace(" -q", " --list", 1)
        out = subprocess.run(["sh", "-c", command], capture_output=True, text=True, cwd=ROOT, timeout=120,
                             env={**os.environ, "JOB_COMPLETION_INDEX": str(index)})
        assert out.returncode == 0, out.stderr
        listed.append(out.stdout.split())
        assert listed[-1] == [s for s in names(subs) if cluster.shard_of(s, 3) == index]
    assert sorted(sum(listed, [])) == names(subs)


# Pod Security Standards, "baseline": what a pod may not ask for (kubernetes.io/docs/concepts/
# security/pod-security-standards); capabilities beyond this list may not be added.
BASELINE_CAPABILITIES = {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
                         "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}


def baseline_violations(pod_spec):
    found = []
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if pod_spec.get(key):
            found.append(key)
    if any("hostPath" in v for v in pod_spec.get("volumes", [])):
        found.append("hostPath volume")
    contexts = [pod_spec.get("securityContext") or {}] + [c.get("securityContext") or {}
                                                         for c in pod_spec.get("containers", [])]
    for sc in contexts:
        if sc.get("privileged"):
            found.append("privileged")
        added = set((sc.get("capabilities") or {}).get("add") or ())
        if added - BASELINE_CAPABILITIES:
            found.append(f"capabilities {sorted(added - BASELINE_CAPABILITIES)}")
        for profile in ("seccompProfile", "appArmorProfile"):
            if (sc.get(profile) or {}).get("type") == "Unconfined":
                found.append(f"{profile} Unconfined")
        if sc.get("procMount", "Default") != "Default":
            found.append("procMount")
    return found


def test_kubernetes_jobs_are_valid_and_need_no_privileges(tmp_path):
    """The job files pass Kubernetes' own schemas (offline, kubernetes-validate, strict: no
    unknown field) and the "baseline" Pod Security Standard that most clusters enforce: no added
    capability, no Unconfined profile; the runtime's default seccomp profile, no escalation."""
    import kubernetes_validate
    proc = run("cluster", "kubernetes", "gradient_descent", "--shards", "3", "--image", "registry.example/dl-ag:1",
               "--claim", "grading-data", "--dest", tmp_path / "k8s")
    assert proc.returncode == 0, proc.stderr
    for name in ("grade-job.yaml", "merge-job.yaml"):
        job = yaml.safe_load((tmp_path / "k8s" / name).read_text())
        kubernetes_validate.validate(job, "1.31.0", strict=True)
        pod = job["spec"]["template"]["spec"]
        assert baseline_violations(pod) == [], (name, baseline_violations(pod))
        for c in pod["containers"]:
            assert c["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
            assert c["securityContext"]["allowPrivilegeEscalation"] is False
    with pytest.raises(kubernetes_validate.ValidationError):  # the schemas are really applied
        kubernetes_validate.validate({**job, "spec": {**job["spec"], "bogus": 1}}, "1.31.0", strict=True)
    # the check itself sees what the earlier job asked for
    assert baseline_violations({"containers": [{"securityContext": {
        "capabilities": {"add": ["SYS_ADMIN"]}, "seccompProfile": {"type": "Unconfined"}}}]}) == [
        "capabilities ['SYS_ADMIN']", "seccompProfile Unconfined"]


# -- Slurm, for real: a one-node cluster on localhost ------------------------------------------------------

SLURM_BINARIES = ("slurmctld", "slurmd", "sbatch", "squeue", "munged")
SLURM_CONF = """\
ClusterName=agtest
SlurmctldHost={host}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={munge_socket}
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
StateSaveLocation={dir}/state
SlurmdSpoolDir={dir}/spool
SlurmctldPidFile={dir}/slurmctld.pid
SlurmdPidFile={dir}/slurmd.pid
SlurmctldLogFile={dir}/slurmctld.log
SlurmdLogFile={dir}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MpiDefault=none
{node} State=UNKNOWN
PartitionName=grading Nodes={short} Default=YES MaxTime=INFINITE State=UP
"""


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _slurm_missing():
    if os.geteuid() != 0:
        return "the one-node Slurm test starts slurmctld, slurmd and munged as root"
    missing = [b for b in SLURM_BINARIES if not shutil.which(b)]
    if missing:
        return f"{', '.join(missing)} not installed: apt-get install slurm-wlm munge (done by .ci/run, as root)"
    if not Path("/etc/munge/munge.key").exists():
        return "no /etc/munge/munge.key (Debian's munge package makes it when installed)"
    return None


@pytest.fixture
def slurm(tmp_path):
    """munged, slurmctld and slurmd for this machine alone, with their state in tmp_path;
    all three stopped afterwards whatever the outcome. Yields the environment sbatch needs."""
    reason = _slurm_missing()
    if reason:
        pytest.skip(reason)
    d = tmp_path / "slurm"
    for sub in ("state", "spool", "munge"):
        (d / sub).mkdir(parents=True)
    short = socket.gethostname().split(".")[0]
    node = subprocess.run(["slurmd", "-C"], capture_output=True, text=True).stdout.splitlines()[0]
    conf = d / "slurm.conf"
    munge_socket = d / "munge" / "munge.socket"
    conf.write_text(SLURM_CONF.format(host=short, short=short, dir=d, node=node, munge_socket=munge_socket,
                                      ctld_port=_free_port(), d_port=_free_port()))
    env = {**os.environ, "SLURM_CONF": str(conf)}
    daemons = []
    try:
        daemons.append(subprocess.Popen(["munged", "--foreground", "--force", f"--socket={munge_socket}",
                                         f"--pid-file={d / 'munge' / 'munged.pid'}",
                                         f"--seed-file={d / 'munge' / 'seed'}", f"--log-file={d / 'munge.log'}"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for _ in range(50):
            if munge_socket.exists():
                break
            time.sleep(0.1)
        for daemon in ("slurmctld", "slurmd"):
            daemons.append(subprocess.Popen([daemon, "-D", "-f", str(conf)], env=env,
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        deadline = time.monotonic() + 60
        while True:
            state = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, env=env)
            if state.returncode == 0 and state.stdout.strip() in ("idle", "mixed", "allocated"):
                break
            if time.monotonic() > deadline or any(p.poll() is not None for p in daemons):
                logs = "".join((d / log).read_text()[-1500:] for log in ("slurmctld.log", "slurmd.log")
                               if (d / log).exists())
                pytest.skip(f"the one-node Slurm cluster did not start (node state {state.stdout.strip()!r}, "
                            f"{state.stderr.strip()}): {logs}")
            time.sleep(0.5)
        yield env
    finally:
        for p in reversed(daemons):
            p.terminate()
        for p in reversed(daemons):
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def test_slurm_job_array_and_merge_give_the_single_machine_gradebook(batch, slurm, tmp_path):
    """`autograder cluster slurm` writes the array and the merge job; submit.sh submits them
    (the merge waits for the array: afterok); the merged grades.csv equals one process's."""
    subs, single = batch
    jobs, out = tmp_path / "jobs", tmp_path / "graded"
    proc = run("cluster", "slurm", "gradient_descent", subs, "--shards", "3", "--out", out, "--dest", jobs,
               "--cpus", "1", "--mem-mb", "3000", env=slurm)
    assert proc.returncode == 0, proc.stderr
    submitted = subprocess.run([str(jobs / "submit.sh")], capture_output=True, text=True, env=slurm, timeout=60)
    assert submitted.returncode == 0, submitted.stderr
    deadline = time.monotonic() + 900
    while subprocess.run(["squeue", "-h"], capture_output=True, text=True, env=slurm).stdout.strip():
        assert time.monotonic() < deadline, "the Slurm jobs did not finish in 15 minutes"
        time.sleep(2)
    logs = {p.name: p.read_text() for p in (jobs / "logs").iterdir()}
    assert len([n for n in logs if n.startswith("grade-")]) == 3 and any(n.startswith("merge-") for n in logs), logs
    assert (out / report.GRADEBOOK).exists(), logs
    assert (out / report.GRADEBOOK).read_text() == (single / report.GRADEBOOK).read_text()
    assert (out / feedback.SUMMARY).exists()
