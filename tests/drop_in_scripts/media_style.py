"""A script that logs the media and charts wandb users log: plotly and matplotlib figures,
pyplot itself, HTML, wandb.plot's charts, and a table with images in its cells."""

import matplotlib.pyplot as plt  # the test runs it with MPLBACKEND=Agg
import numpy as np
import plotly.graph_objects as go
import wandb

run = wandb.init(project="media", name="first")
run.name = "media-run"  # renamed after init, as scripts do

# figures: plotly, a matplotlib line plot (becomes plotly), one with imshow (becomes an image)
wandb.log({"plotly": go.Figure(data=[go.Scatter(x=[1, 2, 3], y=[3, 1, 2])])})
fig, ax = plt.subplots()
ax.plot([1, 2, 3], [2, 4, 3])
wandb.log({"mpl_line": fig})
fig2, ax2 = plt.subplots()
ax2.imshow(np.arange(16).reshape(4, 4))
wandb.log({"mpl_image": fig2})
plt.figure()
plt.plot([0, 1], [1, 0])
wandb.log({"pyplot": plt})
wandb.log({"page": wandb.Html("<h1>report</h1><p>all good</p>")})

# wandb.plot's charts
table = wandb.Table(columns=["x", "y", "label"], data=[[1, 2.0, "a"], [2, 3.5, "b"], [3, 1.0, "c"]])
rng = np.random.default_rng(0)
y_true = rng.integers(0, 3, size=60)
probas = rng.dirichlet(np.ones(3), size=60)
probas[np.arange(60), y_true] += 0.5
probas /= probas.sum(axis=1, keepdims=True)
wandb.log({
    "charts/line": wandb.plot.line(table, "x", "y", title="line"),
    "charts/scatter": wandb.plot.scatter(table, "x", "y", title="scatter"),
    "charts/bar": wandb.plot.bar(table, "label", "y", title="bar"),
    "charts/hist": wandb.plot.histogram(table, "y", title="hist"),
    "charts/series": wandb.plot.line_series([0, 1, 2], [[1, 2, 3], [3, 2, 1]], keys=["up", "down"]),
    "charts/cm": wandb.plot.confusion_matrix(y_true=y_true.tolist(), preds=probas.argmax(1).tolist(),
                                             class_names=["a", "b", "c"]),
    "charts/pr": wandb.plot.pr_curve(y_true, probas, labels=["a", "b", "c"]),
    "charts/roc": wandb.plot.roc_curve(y_true, probas, labels=["a", "b", "c"]),
})

# a table whose cells hold images
samples = wandb.Table(columns=["image", "label"])
for i in range(3):
    pixels = np.full((6, 8, 3), 40 * i, dtype=np.uint8)
    samples.add_data(wandb.Image(pixels, caption=f"sample {i}"), i)
wandb.log({"samples": samples})

# a step gathered with commit=False, committed by log with no data
wandb.log({"acc": 0.5}, commit=False)
wandb.log({})
wandb.finish()
