"""Pretrainers under tf.distribute: MirroredStrategy on 2 logical CPUs, MultiWorkerMirroredStrategy with 2
worker processes on localhost (TF_CONFIG). Each runs in a subprocess: logical devices and collective ops
must be configured before TensorFlow starts."""

import json
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest

COMMON = textwrap.dedent("""
    import json, os, sys
    import numpy as np, tensorflow as tf
    {setup}
    import keras, kbert
    from kbert.training.pretrainer import BertPretrainer

    V, B, L, P = 200, 8, 12, 3
    rng = np.random.default_rng(0)
    x = {{"token_ids": rng.integers(5, V, (4 * B, L)).astype("int32"),
          "padding_mask": np.ones((4 * B, L), "int32"), "segment_ids": np.zeros((4 * B, L), "int32"),
          "mask_positions": np.tile(np.arange(1, 1 + P), (4 * B, 1)).astype("int32")}}
    y = {{"mlm_ids": rng.integers(5, V, (4 * B, P)).astype("int32"), "mlm_weights": np.ones((4 * B, P), "float32"),
          "pair_label": (np.arange(4 * B) % 2).astype("int32")}}
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(B, drop_remainder=True)

    def build():
        keras.utils.set_random_seed(0)
        m = BertPretrainer(kbert.models.backbone("bert_tiny", vocabulary_size=V, num_layers=1, dropout=0.0))
        m.compile(optimizer=keras.optimizers.SGD(0.5))
        return m

    {body}
""")

MIRRORED = COMMON.format(setup=textwrap.dedent("""
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    """), body=textwrap.dedent("""
    single = build()
    single.fit(ds, verbose=0)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        mirrored = build()
    h = mirrored.fit(ds, verbose=0)
    diff = max(float(np.max(np.abs(a.numpy() - b.numpy()))) for a, b in zip(single.weights, mirrored.weights))
    print(json.dumps({"replicas": strategy.num_replicas_in_sync, "diff": diff, "loss": h.history["loss"][-1]}))
    """))

MULTIWORKER = COMMON.format(setup="strategy = tf.distribute.MultiWorkerMirroredStrategy()  # before any TF op",
                            body=textwrap.dedent("""
    opts = tf.data.Options()
    opts.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    ds = ds.with_options(opts)  # both workers read the same batches (so the result is checkable)
    with strategy.scope():
        model = build()
    h = model.fit(ds, verbose=0)
    checksum = float(sum(float(np.sum(w.numpy())) for w in model.weights))
    print(json.dumps({"workers": strategy.num_replicas_in_sync, "checksum": checksum, "loss": h.history["loss"][-1],
                      "steps": int(model.optimizer.iterations.numpy())}))
    """))

SINGLE = COMMON.format(setup="", body=textwrap.dedent("""
    ds = ds.unbatch().batch(B // 2, drop_remainder=True).take(4)  # what each replica computed on (see the test)
    model = build()
    h = model.fit(ds, verbose=0)
    print(json.dumps({"checksum": float(sum(float(np.sum(w.numpy())) for w in model.weights))}))
    """))


def _env(**extra):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    env.pop("TF_CONFIG", None)
    env.update(extra)
    return env


def _last_json(text):
    return json.loads([ln for ln in text.splitlines() if ln.startswith("{")][-1])


def test_mirrored_strategy_on_two_logical_cpus_matches_single_device():
    r = subprocess.run([sys.executable, "-c", MIRRORED], capture_output=True, text=True, env=_env(), timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    out = _last_json(r.stdout)
    assert out["replicas"] == 2 and np.isfinite(out["loss"])
    assert out["diff"] < 1e-4  # gradients averaged over replicas == the same global batch on one device


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@pytest.mark.slow
def test_multi_worker_mirrored_two_processes():
    ports = _free_ports(2)
    cluster = {"worker": [f"localhost:{p}" for p in ports]}
    procs = [subprocess.Popen([sys.executable, "-c", MULTIWORKER], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=_env(TF_CONFIG=json.dumps({"cluster": cluster,
                                                                        "task": {"type": "worker", "index": i}})))
             for i in range(2)]
    try:
        outs = [p.communicate(timeout=300) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, (so, se) in zip(procs, outs):
        assert p.returncode == 0, se[-3000:]
    a, b = (_last_json(so) for so, _ in outs)
    assert a["workers"] == b["workers"] == 2
    assert a["checksum"] == pytest.approx(b["checksum"], rel=1e-6)  # both workers hold the same weights
    assert a["steps"] == b["steps"] == 4  # Keras takes the step count from the global dataset (4 batches of B)
    # With auto-sharding OFF both workers read the same data, which `experimental_distribute_dataset` rebatches
    # to B / 2 per replica: both replicas see the same 4 half-batches, so the averaged update equals one
    # device's updates on those 4 half-batches.
    r = subprocess.run([sys.executable, "-c", SINGLE], capture_output=True, text=True, env=_env(), timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert a["checksum"] == pytest.approx(_last_json(r.stdout)["checksum"], rel=1e-4)
