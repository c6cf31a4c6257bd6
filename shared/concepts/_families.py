"""The concept families in learning order: the book's chapters first (ゼロから作るDeep
Learning ① and ②), then beyond. A spec names its family and its lesson (its place in the
family); the guide's sections, `rosetta list`'s order and the notebooks' index all follow
from that, so no list of concept names is kept anywhere. A family's notebook is
notebooks/<NN>_<id>.ipynb, NN its place below."""
from __future__ import annotations

from shared.spec import Family

FAMILIES = (
    Family("activations", "Activations",
           book="① 3.2 活性化関数, 5.5 活性化関数レイヤの実装",
           syllabus="深層学習の基礎: 順伝播型ネットワーク (活性化関数)"),
    Family("softmax_cross_entropy", "Softmax and cross-entropy",
           book="① 3.5 出力層の設計, 4.2 損失関数, 5.6 Affine/Softmaxレイヤの実装",
           syllabus="深層学習の基礎: 順伝播型ネットワーク (出力層と損失関数)"),
    Family("optimizers_mlp", "Optimizers, regularization and the multi-layer net",
           book="① 5.7 誤差逆伝播法の実装, 6.1 パラメータの更新, 6.3 Batch Normalization, 6.4 正則化",
           syllabus="深層学習の基礎: 深層モデルのための最適化, 深層モデルのための正則化 (ドロップアウト, "
                    "パラメータノルムペナルティ), 正規化 (バッチ正規化)"),
    Family("convolution", "Convolution and pooling",
           book="① 7.2 畳み込み層, 7.3 プーリング層, 7.4 im2col, 7.5 CNNの実装, 7.6 CNNの可視化",
           syllabus="深層学習の基礎: 畳み込みニューラルネットワーク"),
    Family("rnn_teacher_forcing", "RNN, LSTM, GRU and teacher forcing",
           book="② 5章 RNN, 6章 ゲート付きRNN (LSTM, 勾配クリッピング, GRU), 7章 RNNによる文章生成 (seq2seq, 足し算)",
           syllabus="深層学習の基礎: リカレントニューラルネットワーク (LSTM, GRU, Seq2Seq, 教師強制)"),
    Family("contrastive_triplet", "Contrastive and triplet losses",
           book="(beyond the books)",
           syllabus="深層学習の応用: 距離学習 (Siamese network, Triplet loss)"),
    Family("gan", "GAN",
           book="① 8章 (画像生成: DCGAN)",
           syllabus="深層学習の応用: 生成モデル (GAN, DCGAN)"),
    Family("bit_transfer", "BiT transfer learning",
           book="① 8章 (より深いネットワーク, ResNet)",
           syllabus="深層学習の応用: 画像認識 (ResNet), 様々な学習方法 (転移学習, ファインチューニング); "
                    "深層学習の基礎: 正規化 (グループ正規化)"),
    Family("attention_transformer", "Attention and the Transformer",
           book="② 8章 Attention (Attention付きseq2seq, 双方向RNN, Transformer)",
           syllabus="深層学習の応用: 自然言語処理 (Transformer, Attention, Multi-Head Attention, 位置エンコーディング); "
                    "深層学習の基礎: 正規化 (レイヤー正規化)"),
)


def family(name: str) -> Family:
    for found in FAMILIES:
        if found.id == name:
            return found
    raise KeyError(f"no concept family {name!r}; known: {', '.join(f.id for f in FAMILIES)}")


def position(name: str) -> int:
    """1 for the first family in learning order."""
    return [f.id for f in FAMILIES].index(name) + 1
