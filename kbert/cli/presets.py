"""List the model zoo: name, family, layers, hidden size and exact parameter count.

examples:
  kbert presets
  kbert presets --family albert
  kbert presets --json
"""


def add_arguments(p):
    p.add_argument("--family", choices=["bert", "distilbert", "albert"], help="only this family")


def run(args):
    import json

    from kbert.presets import count_params, list_presets

    rows = [
        dict(name=p.name, family=p.family, layers=p.num_layers, hidden=p.hidden_dim,
             params=count_params(p.family, p.config), description=p.description)
        for p in list_presets(args.family)
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'name':<16} {'family':<11} {'layers':>6} {'hidden':>6} {'params':>13}  description")
    for r in rows:
        print(f"{r['name']:<16} {r['family']:<11} {r['layers']:>6} {r['hidden']:>6} {r['params']:>13,}  "
              f"{r['description']}")
    return 0
