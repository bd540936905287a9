"""The glossary: the terms of the articles this dashboard teaches from, in Chinese with the English
beside, in the sidebar of every page (in both languages: a bilingual class reads both)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from backend.shared.language import t

# (English, 简体中文), grouped as the articles go: networks and learning, the Transformer,
# pretraining and evaluation, vision, generation.
TERMS: tuple[tuple[str, str], ...] = (
    ("deep learning", "深度学习"),
    ("neural network", "神经网络"),
    ("layer", "层"),
    ("activation (function)", "激活（函数）"),
    ("loss function", "损失函数"),
    ("gradient descent", "梯度下降"),
    ("backpropagation", "反向传播"),
    ("learning rate", "学习率"),
    ("regularisation", "正则化"),
    ("overfitting", "过拟合"),
    ("recurrent neural network (RNN)", "循环神经网络（RNN）"),
    ("Transformer", "Transformer"),
    ("attention mechanism", "注意力机制"),
    ("self-attention", "自注意力"),
    ("query / key / value", "查询 / 键 / 值"),
    ("multi-head attention", "多头注意力"),
    ("attention head", "注意力头"),
    ("token", "词元（token）"),
    ("tokenizer", "分词器"),
    ("embedding", "嵌入"),
    ("encoder / decoder", "编码器 / 解码器"),
    ("pretraining", "预训练"),
    ("fine-tuning", "微调"),
    ("transfer learning", "迁移学习"),
    ("zero-shot", "零样本"),
    ("label", "标签"),
    ("accuracy", "准确率"),
    ("precision", "精确率"),
    ("recall", "召回率"),
    ("F1 score", "F1 值"),
    ("convolutional neural network (CNN)", "卷积神经网络（CNN）"),
    ("feature map", "特征图"),
    ("saliency map", "显著性图"),
    ("attribution", "归因"),
    ("faithfulness", "忠实度"),
    ("probability", "概率"),
    ("temperature", "温度"),
    ("sampling", "采样"),
    ("prompt", "提示词"),
)


def panel() -> None:
    """The glossary in a popover (drawn only when opened), for the sidebar."""
    with st.popover(t("Glossary"), icon=":material/translate:", width="stretch"):
        st.caption(t("The terms of the articles this dashboard teaches from, in Chinese and English."))
        st.dataframe(pd.DataFrame(TERMS, columns=["English", "中文"]), hide_index=True, width="stretch",
                     height=35 * (len(TERMS) + 1) + 3)
