"""The grokking picture in docs/grokking.png: zoo's model for the ``grokking`` recipe (built by
``zoo_core.model.build``) trained by a plain full-batch loop with torch's AdamW over every
parameter (weight decay 1.0), printing train and validation accuracy every 100 steps.

    python benchmarks/grokking_loop.py "[self_attention,gmlp]" 1.0 300 mixer.1.max_len=8 \
        tokenizer.unit=words token_dropout=0 dim=64

Arguments: the mixer stack, the weight decay, the seconds to run, then any overrides.
"""
import sys, time, torch
from zoo_core.model import build
from zoo_core.tokenize import Tokenizer
from zoo_plugins.datasets.modular import load
torch.set_num_threads(1)
mix = sys.argv[1]; wd = float(sys.argv[2]); secs = float(sys.argv[3])
sp = load(p=47, train_fraction=0.4)
labels = sorted(set(sp.train.labels), key=int); idx = {l: i for i, l in enumerate(labels)}
ov = ["embed=full", f"mixer={mix}", "pos=learned", "max_len=8", "pool=mean", "loss=cross_entropy", "optim=adamw",
      "dim=128", "dropout=0", f"num_classes={len(labels)}", "tokenizer.lowercase=false"] + sys.argv[4:]
m = build(ov)
tok = Tokenizer(m.run.tokenizer)
tr = tok.batch(sp.train.texts); va = tok.batch(sp.valid.texts)
m.embed.fit(tr)
xt, yt = m.encode(tr), torch.tensor([idx[l] for l in sp.train.labels])
xv, yv = m.encode(va), torch.tensor([idx[l] for l in sp.valid.labels])
opt = torch.optim.AdamW(m.parameters(), lr=1e-3, weight_decay=wd, betas=(0.9, 0.98))
t0 = time.time(); step = 0
while time.time() - t0 < secs:
    m.train(); out = m(xt); loss = torch.nn.functional.cross_entropy(out["logits"], yt)
    opt.zero_grad(); loss.backward(); opt.step(); step += 1
    if step % 100 == 0:
        m.eval()
        with torch.no_grad():
            a = (m(xt)["logits"].argmax(-1) == yt).float().mean(); b = (m(xv)["logits"].argmax(-1) == yv).float().mean()
        print(step, round(time.time() - t0), f"loss {loss.item():.3f} train {a:.3f} valid {b:.3f}", flush=True)
