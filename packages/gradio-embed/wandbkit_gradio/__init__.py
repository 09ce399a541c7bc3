"""wandbkit-gradio (planned): a Gradio dashboard (wandbkit dashboard) whose tabs come from the UI
hook, embedding W&B.
"""
