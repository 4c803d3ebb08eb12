"""`rnnlab demo`: the main job."""


def register(sub):
    p = sub.add_parser("demo", help="trace 我 爱 祖国 through a SimpleRNN and an LSTM")
    p.add_argument("--quick", action="store_true", help="small settings, finishes in seconds")
    p.set_defaults(func=run)


def run(args):
    raise NotImplementedError
