"""wandbkit-vlm (planned): vision-language-model and ARR-COC metrics and pictures."""
