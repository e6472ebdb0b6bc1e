"""The same model and step as bench/train_step_bench.cpp, in PyTorch (Debian's python3-torch)."""
import sys
import time

import torch
from torch import nn

batch = int(sys.argv[1]) if len(sys.argv) > 1 else 1024
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 20
torch.set_num_threads(2)
torch.manual_seed(1)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10000, 100)
        self.emb.weight.requires_grad_(False)
        self.lstm = nn.LSTM(100, 100, batch_first=True)
        self.out = nn.Linear(100, 1)

    def forward(self, x):
        return self.out(self.lstm(self.emb(x))[0][:, -1])


net = Net()
opt = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=1e-3, eps=1e-7)
loss_fn = nn.BCEWithLogitsLoss()
x = torch.randint(1, 10000, (batch, 40))
y = torch.randint(0, 2, (batch, 1)).float()


def step():
    opt.zero_grad()
    loss = loss_fn(net(x), y)
    loss.backward()
    opt.step()


step()
start = time.perf_counter()
for _ in range(steps):
    step()
train_ms = (time.perf_counter() - start) * 1000 / steps
one = torch.randint(1, 10000, (1, 40))
with torch.no_grad():
    net(one)
    start = time.perf_counter()
    for _ in range(500):
        net(one)
    infer_ms = (time.perf_counter() - start) * 1000 / 500
# The BLAS library this process actually mapped (Debian's torch uses libblas.so.3).
with open("/proc/self/maps") as maps:
    blas = sorted({line.split()[-1] for line in maps if "blas" in line.split()[-1]})
print(f"pytorch train_step_ms {train_ms:.2f} samples_per_s {batch * 1000 / train_ms:.0f} infer_batch1_ms {infer_ms:.3f}"
      f"  (BLAS: {', '.join(blas) or 'none mapped'})")
