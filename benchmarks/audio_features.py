"""Feature-extraction throughput on the real clips: decoding (soundfile), resampling (torchaudio) and log-mel
(torchaudio MelSpectrogram + AmplitudeToDB), in clips/s, one torch thread.

    python benchmarks/audio_features.py [--mirror ../shared/data] [--clips 200] [--batch 64]

Wall and CPU (process) seconds are both reported because the machine is shared: CPU-time rates are the fair
comparison between runs. Resampling is measured on the FSDD recordings (8 -> 16 kHz) and on ESC-50 clips
(16 -> 44.1 -> 16 kHz round trip is not measured: the mirror holds 16 kHz clips).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from domains.audio.data.readers import fix_length, load_audio, read_meta  # noqa: E402
from domains.audio.data.features import LogMelConfig, log_mel  # noqa: E402
from ssl_core.config import resolve_section  # noqa: E402
from ssl_core.runtime import set_threads  # noqa: E402


def _timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mirror", type=Path, default=REPO.parent / "shared" / "data")
    p.add_argument("--clips", type=int, default=200)
    p.add_argument("--batch", type=int, default=64)
    args = p.parse_args()
    set_threads(1)
    rows = []
    data = resolve_section(("audio", "data"), None, None)
    for ds, rate in (("esc50", 16000), ("fsdd", 8000), ("fsdd", 16000)):
        meta = read_meta(ds, args.mirror / "audio" / ds / "meta.csv").head(args.clips)
        params = {**data[ds], "sample_rate": rate}
        if ds == "fsdd" and rate == 16000:
            params.update(n_fft=512, hop_length=256)
        cfg = LogMelConfig.from_dict(params)
        n = int(params["clip_seconds"] * rate)
        waves, w_dec, c_dec = _timed(lambda: [fix_length(load_audio(pth, rate), n) for pth in meta.path])
        batch = torch.from_numpy(np.stack(waves))
        log_mel(batch[:2], cfg)  # build the transforms once

        def mels():
            return [log_mel(batch[i:i + args.batch], cfg) for i in range(0, len(batch), args.batch)]

        _, w_mel, c_mel = _timed(mels)
        k = len(meta)
        label = f"{ds} @ {rate // 1000} kHz" + (" (resampled)" if ds == "fsdd" and rate != 8000 else "")
        rows.append((label, k, k / w_dec, k / c_dec, k / w_mel, k / c_mel, k / (w_dec + w_mel)))
    print(f"{'data set':28} {'clips':>5} {'decode/s wall':>13} {'decode/s cpu':>12} {'logmel/s wall':>13} "
          f"{'logmel/s cpu':>12} {'total clips/s':>13}")
    for r in rows:
        print(f"{r[0]:28} {r[1]:5d} {r[2]:13.0f} {r[3]:12.0f} {r[4]:13.0f} {r[5]:12.0f} {r[6]:13.0f}")


if __name__ == "__main__":
    main()
