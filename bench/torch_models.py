#!/usr/bin/env python3
"""The PyTorch side of bench/run.sh: every shipped example as the same model in
torch, trained for a fixed number of steps and timed like bench/train_steps.

  torch_models.py WORKLOAD --inputs DIR [--steps N] [--warmup N] [--infer]

DIR holds the first training batch graphrun took (train_steps --dump): the same
token ids (so the same padding), labels and images; every step trains on it.
Parameters are random (throughput does not depend on their values). Same shapes,
layers, batch size, optimizer (Adam eps 1e-7 or SGD), dropout and Keras masking
as the .pbtxt: where graphrun takes oneDNN's fused RNN, torch takes its fused
nn.LSTM / nn.RNN; where the Keras semantics have no fused torch equivalent (masked
steps that keep the state, per-sequence recurrent dropout masks, the classic
reset-before GRU), a step loop (KerasRecurrent) does what graphrun's step-wise
kernels do. Prints one line of key=value pairs, as train_steps does.
"""
import argparse
import math
import os
import resource
import time

import torch
import torch.nn.functional as F
from torch import nn

from vae_reference import EmojiVae as ReferenceVae

torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))


def inverted_dropout_mask(shape, rate, like):
    return torch.empty(shape, dtype=like.dtype).bernoulli_(1.0 - rate).div_(1.0 - rate)


class KerasRecurrent(nn.Module):
    """A Keras recurrent layer as a step loop: cell 'lstm' (gates i, f, g, o) or 'gru'
    (reset before the recurrent product); with `mask` ([N, T] bool) a masked step keeps
    the state and repeats the previous output; dropout / recurrent_dropout draw one
    mask per sequence and gate, reused at every step (training only); `reverse` walks
    time backwards (the backward half of a bidirectional layer)."""

    def __init__(self, cell, inputs, hidden, dropout=0.0, recurrent_dropout=0.0, reverse=False, sequences=False):
        super().__init__()
        self.cell, self.hidden = cell, hidden
        self.gates = {"lstm": 4, "gru": 3}[cell]
        self.dropout, self.recurrent_dropout = dropout, recurrent_dropout
        self.reverse, self.sequences = reverse, sequences
        self.kernel = nn.Parameter(torch.empty(self.gates, inputs, hidden).uniform_(-0.1, 0.1))
        self.recurrent = nn.Parameter(torch.empty(self.gates, hidden, hidden).uniform_(-0.1, 0.1))
        self.bias = nn.Parameter(torch.zeros(self.gates, 1, hidden))

    def forward(self, x, mask=None):
        n, steps, c = x.shape
        g, h_size = self.gates, self.hidden
        if self.training and self.dropout > 0:  # one input mask per gate: G products
            xg = x.unsqueeze(0) * inverted_dropout_mask((g, n, 1, c), self.dropout, x)
            projected = torch.bmm(xg.reshape(g, n * steps, c), self.kernel).view(g, n, steps, h_size)
        else:  # one GEMM for all gates
            w = self.kernel.permute(1, 0, 2).reshape(c, g * h_size)
            projected = (x.reshape(n * steps, c) @ w).view(n, steps, g, h_size).permute(2, 0, 1, 3)
        per_step = (projected + self.bias.unsqueeze(2)).unbind(2)  # T views of [G, N, H]
        rec_mask = None
        if self.training and self.recurrent_dropout > 0:
            rec_mask = inverted_dropout_mask((g, n, h_size), self.recurrent_dropout, x)
        keep = mask.unbind(1) if mask is not None else None
        h = x.new_zeros(n, h_size)
        cell = x.new_zeros(n, h_size)
        outputs = [None] * steps
        for t in (range(steps - 1, -1, -1) if self.reverse else range(steps)):
            xt = per_step[t]
            hg = h.unsqueeze(0).expand(g, n, h_size) if rec_mask is None else h.unsqueeze(0) * rec_mask
            if self.cell == "lstm":
                pre = xt + torch.bmm(hg, self.recurrent)
                i, f, o = torch.sigmoid(pre[0]), torch.sigmoid(pre[1]), torch.sigmoid(pre[3])
                c_new = f * cell + i * torch.tanh(pre[2])
                h_new = o * torch.tanh(c_new)
            else:
                zr = torch.bmm(hg[:2], self.recurrent[:2])
                z, r = torch.sigmoid(xt[0] + zr[0]), torch.sigmoid(xt[1] + zr[1])
                candidate = torch.tanh(xt[2] + (r * hg[2]) @ self.recurrent[2])
                h_new, c_new = z * h + (1 - z) * candidate, cell
            if keep is not None:
                m = keep[t].unsqueeze(1)
                h_new, c_new = torch.where(m, h_new, h), torch.where(m, c_new, cell)
            h, cell = h_new, c_new
            outputs[t] = h
        return torch.stack(outputs, 1) if self.sequences else h


def read_npy(path):
    """A little-endian float32 or int64 .npy file as a tensor (this python has torch, not numpy)."""
    with open(path, "rb") as f:
        data = f.read()
    header_length = int.from_bytes(data[8:10], "little")
    header = eval(data[10:10 + header_length].decode("latin1"))  # a dict literal, written by graphrun
    dtype = {"<f4": torch.float32, "<i8": torch.int64}[header["descr"]]
    return torch.frombuffer(bytearray(data[10 + header_length:]), dtype=dtype).view(*header["shape"])


def training_loss(model, loss, logits, feeds):
    """The loss while training; inference (as graphrun's, which fetches the predictions only) skips it."""
    return loss(logits, feeds["labels"]) if model.training else None


def frozen_embedding(rows, dims):
    return nn.Embedding.from_pretrained(torch.empty(rows, dims).uniform_(-0.5, 0.5), freeze=True)


class EmojifyV1(nn.Module):  # the mean of the words' GloVe vectors, softmax regression
    def __init__(self):
        super().__init__()
        self.glove = frozen_embedding(30016, 100)
        self.out = nn.Linear(100, 5)

    def forward(self, f):
        tokens = f["tokens"]
        count = (tokens != 0).sum(1, keepdim=True).clamp(min=1).float()
        logits = self.out(self.glove(tokens).sum(1) / count)
        return training_loss(self, F.cross_entropy, logits, f), F.softmax(logits, -1)


class EmojifyV2(nn.Module):  # two fused LSTM(128), dropout 0.5 after each
    def __init__(self):
        super().__init__()
        self.glove = frozen_embedding(30016, 100)
        self.lstm1, self.lstm2 = nn.LSTM(100, 128, batch_first=True), nn.LSTM(128, 128, batch_first=True)
        self.out = nn.Linear(128, 5)

    def forward(self, f):
        seq = F.dropout(self.lstm1(self.glove(f["tokens"]))[0], 0.5, self.training)
        last = F.dropout(self.lstm2(seq)[0][:, -1], 0.5, self.training)
        logits = self.out(last)
        return training_loss(self, F.cross_entropy, logits, f), F.softmax(logits, -1)


class Emotion(nn.Module):  # embedding, fused BiLSTM(100) sequences, attention over time, two dense layers
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(15213, 100)
        self.bilstm = nn.LSTM(100, 100, batch_first=True, bidirectional=True)
        self.score, self.fc, self.out = nn.Linear(200, 1), nn.Linear(200, 100), nn.Linear(100, 6)

    def forward(self, f):
        seq = F.dropout(self.bilstm(F.dropout(self.embedding(f["tokens"]), 0.2, self.training))[0], 0.2, self.training)
        attention = F.softmax(self.score(seq).squeeze(2), 1)
        context = torch.bmm(attention.unsqueeze(1), seq).squeeze(1)
        logits = self.out(F.relu(self.fc(context)))
        return training_loss(self, F.cross_entropy, logits, f), F.softmax(logits, -1)


class Movie(nn.Module):
    """examples/movie_reviews: frozen GloVe [10000, 100], one recurrent layer (or two), Dense(1) on the last h.
    lstm / simple_rnn: torch's fused layers, as graphrun's fused path; gru: the reset-before
    GRU as a step loop (torch's fused GRU resets after); the masked variants: Keras masking
    and dropout 0.1 / recurrent_dropout 0.1 in the step loop, Dropout(0.2) before and after."""

    def __init__(self, variant):
        super().__init__()
        self.variant = variant
        self.embedding = frozen_embedding(10000, 100)
        self.masked = variant in ("modified_lstm", "bilstm", "stacked_lstm")
        hidden_out = 200 if variant == "bilstm" else 100
        if variant == "lstm":
            self.rnn = nn.LSTM(100, 100, batch_first=True)
        elif variant == "simple_rnn":
            self.rnn = nn.RNN(100, 100, batch_first=True)
        elif variant == "gru":
            self.rnn = KerasRecurrent("gru", 100, 100)
        elif variant == "modified_lstm":
            self.rnn = KerasRecurrent("lstm", 100, 100, 0.1, 0.1)
        elif variant == "bilstm":
            self.forward_rnn = KerasRecurrent("lstm", 100, 100, 0.1, 0.1)
            self.backward_rnn = KerasRecurrent("lstm", 100, 100, 0.1, 0.1, reverse=True)
        elif variant == "stacked_lstm":
            self.rnn1 = KerasRecurrent("lstm", 100, 100, 0.1, 0.1, sequences=True)
            self.rnn2 = KerasRecurrent("lstm", 100, 100, 0.1, 0.1)
        self.out = nn.Linear(hidden_out, 1)

    def forward(self, f):
        tokens = f["tokens"]
        x = self.embedding(tokens)
        if not self.masked:
            last = self.rnn(x)[0][:, -1] if self.variant != "gru" else self.rnn(x)
        else:
            x, mask = F.dropout(x, 0.2, self.training), tokens != 0
            if self.variant == "modified_lstm":
                last = self.rnn(x, mask)
            elif self.variant == "bilstm":
                last = torch.cat([self.forward_rnn(x, mask), self.backward_rnn(x, mask)], 1)
            else:
                last = self.rnn2(self.rnn1(x, mask), mask)
            last = F.dropout(last, 0.2, self.training)
        logits = self.out(last)
        return training_loss(self, F.binary_cross_entropy_with_logits, logits, f), torch.sigmoid(logits)


class Imdb(nn.Module):  # trainable embedding [88585, 300] (dense gradient, as graphrun), fused LSTM(128)
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(88585, 300)
        self.lstm = nn.LSTM(300, 128, batch_first=True)
        self.out = nn.Linear(128, 2)

    def forward(self, f):
        logits = self.out(self.lstm(self.embedding(f["tokens"]))[0][:, -1])
        return training_loss(self, F.cross_entropy, logits, f), F.softmax(logits, -1)


class EmojiVae(ReferenceVae):  # bench/vae_reference.py's model, on the NHWC batch train_steps dumped
    def forward(self, f):
        return super().forward(f["original"].permute(0, 3, 1, 2)).mean(), None


class EmojiQa(nn.Module):  # fused BiLSTM(50), max-pool, question/answer towers through one shared MLP, cosine hinge
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(2000, 100)
        self.bilstm = nn.LSTM(100, 50, batch_first=True, bidirectional=True)
        self.question, self.answer = nn.Linear(200, 10), nn.Linear(16, 10)
        self.shared = nn.Sequential(nn.Linear(10, 100), nn.ReLU(), nn.Linear(100, 50), nn.ReLU(), nn.Linear(50, 10),
                                    nn.Tanh())
        self.register_buffer("sentiment_codes", torch.rand(3, 16))

    def unit(self, x):
        return x / x.pow(2).sum(-1, keepdim=True).clamp(min=1e-12).sqrt()

    def forward(self, f):
        seq = self.bilstm(self.embedding(f["tokens"]))[0]  # [N, 20, 100]
        pooled = F.max_pool1d(seq.transpose(1, 2), 10).transpose(1, 2).flatten(1)  # [N, 200]
        q = self.unit(self.shared(F.relu(self.question(pooled))))
        code = lambda answers: self.unit(self.shared(F.relu(self.answer(answers))))
        gap = (q * code(f["incorrect"])).sum(-1) - (q * code(f["correct"])).sum(-1)
        return F.relu(gap + 0.2).mean(), q @ code(self.sentiment_codes).t()


WORKLOADS = {
    "emojify_v1": (EmojifyV1, "sgd"),
    "emojify_v2": (EmojifyV2, "adam"),
    "emotion": (Emotion, "adam"),
    "imdb": (Imdb, "adam"),
    "emoji_vae": (EmojiVae, "adam"),
    "emoji_qa": (EmojiQa, "adam_clip"),
}
for movie in ("simple_rnn", "lstm", "gru", "modified_lstm", "bilstm", "stacked_lstm"):
    WORKLOADS["movie_" + movie] = (lambda variant=movie: Movie(variant), "adam")


def median_seconds(fn, runs):
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - start)
    return sorted(seconds)[runs // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("workload", choices=sorted(WORKLOADS))
    ap.add_argument("--inputs", required=True, help="the batch train_steps --dump wrote")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--infer", action="store_true")
    a = ap.parse_args()
    torch.manual_seed(1)
    make, optimizer_kind = WORKLOADS[a.workload]
    model = make()
    feeds = {}
    for name in os.listdir(a.inputs):
        feeds[name[:-4]] = read_npy(os.path.join(a.inputs, name))
    batch = next(iter(feeds.values())).shape[0]
    trainable = [p for p in model.parameters() if p.requires_grad]
    if optimizer_kind == "sgd":
        optimizer = torch.optim.SGD(trainable, lr=0.01)
    else:
        optimizer = torch.optim.Adam(trainable, lr=1e-3, eps=1e-7)

    def step():
        optimizer.zero_grad()
        loss, _ = model(feeds)
        loss.backward()
        if optimizer_kind == "adam_clip":
            nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()

    model.train()
    for _ in range(a.warmup):
        step()
    step_s = median_seconds(step, a.steps)
    line = f"batch={batch} step_ms={step_s * 1e3:.4f} samples_per_s={batch / step_s:.2f}"
    if a.infer:
        model.eval()
        with torch.no_grad():
            for n, runs in ((1, 200), (256, 20)):
                rows = {k: v[torch.arange(n) % v.shape[0]] for k, v in feeds.items()}
                model(rows)
                line += f" infer{n}_ms={median_seconds(lambda: model(rows), runs) * 1e3:.4f}"
    line += f" peak_rss_mb={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f}"
    with open("/proc/self/maps") as maps:  # the BLAS this process mapped (Debian's torch uses libblas.so.3)
        blas = sorted({os.path.basename(l.split()[-1]) for l in maps if "blas" in l.split()[-1]})
    print(line + f" blas={','.join(blas) or 'none'}")


if __name__ == "__main__":
    main()
