"""What the mock reads out of a prompt: parameters, banned words, and an English rendering.

The real proxy translates CJK prompts before the banned-word check; the mock does the same with a
small fixed glossary so the result is deterministic and needs no network.
"""

from __future__ import annotations

import re

CJK = re.compile(r"[\u4e00-\u9fa5]")

# A short stand-in for the proxy's 210-word banned-words.txt: words Midjourney is known to refuse.
DEFAULT_BANNED_WORDS = (
    "blood", "bloody", "gore", "gory", "nsfw", "nude", "naked", "porn", "sexy", "torture",
    "decapitate", "dismember", "corpse", "massacre", "suicide", "drugs", "cocaine", "heroin",
    "slaughter", "brutal",
)

DEFAULT_GLOSSARY: dict[str, str] = {
    "一只": "a", "一个": "a", "一位": "a", "可爱的": "cute", "可爱": "cute", "美丽的": "beautiful",
    "美丽": "beautiful", "漂亮的": "pretty", "小": "small", "大": "big", "的": "", "在": "on",
    "和": "and", "猫": "cat", "小猫": "kitten", "狗": "dog", "小狗": "puppy", "女孩": "girl",
    "男孩": "boy", "女人": "woman", "男人": "man", "花": "flower", "花园": "garden", "山": "mountain",
    "海": "sea", "大海": "ocean", "天空": "sky", "星空": "starry sky", "城市": "city", "夜晚": "night",
    "晚上": "evening", "日落": "sunset", "森林": "forest", "树": "tree", "草地": "meadow", "河": "river",
    "湖": "lake", "雪": "snow", "雨": "rain", "月亮": "moon", "太阳": "sun", "龙": "dragon",
    "机器人": "robot", "宇航员": "astronaut", "赛博朋克": "cyberpunk", "风格": "style",
    "油画": "oil painting", "水彩": "watercolor", "插画": "illustration", "照片": "photo",
    "高清": "high definition", "红色": "red", "蓝色": "blue", "绿色": "green", "黄色": "yellow",
    "白色": "white", "黑色": "black", "金色": "golden", "坐": "sitting", "跑": "running",
    "飞": "flying", "穿着": "wearing", "帽子": "hat", "沙发": "sofa", "窗户": "window", "房子": "house",
    "血": "blood", "血腥": "gore", "裸体": "nude",
}


def contains_cjk(text: str) -> bool:
    return bool(CJK.search(text))


def translate(text: str, glossary: dict[str, str] | None = None) -> str:
    """CJK runs → English words by longest match; parameters and latin text pass through."""
    if not contains_cjk(text):
        return text
    words = glossary if glossary is not None else DEFAULT_GLOSSARY
    longest = max((len(k) for k in words), default=1)
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if not CJK.match(ch):
            out.append(ch)
            i += 1
            continue
        for size in range(min(longest, len(text) - i), 0, -1):
            piece = text[i : i + size]
            if piece in words:
                if words[piece]:
                    out.append(f" {words[piece]} ")
                i += size
                break
        else:
            i += 1  # a character the glossary does not know is left out, as a poor translator would
    return re.sub(r"\s+", " ", "".join(out)).strip()


def banned_pattern(words: tuple[str, ...] | list[str]) -> re.Pattern[str]:
    """One case-insensitive pattern for the whole list, built once (the proxy checks `\\bword\\b` per line)."""
    return re.compile("|".join(rf"\b{re.escape(w.lower())}\b" for w in words) or r"(?!)", re.IGNORECASE)


def find_banned(prompt_en: str, pattern: re.Pattern[str]) -> str | None:
    """The first banned word in the prompt, in the prompt's own case (as the proxy reports it)."""
    m = pattern.search(prompt_en)
    return m.group(0) if m else None



def parse_zoom(prompt: str) -> float | None:
    m = re.search(r"--zoom\s+([0-9]+(?:\.[0-9]+)?)", prompt)
    return float(m.group(1)) if m else None

