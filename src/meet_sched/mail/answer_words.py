"""The words of one-click answers (the links in messages, the confirmation page), in ko, zh, vi, en.

Kept beside :mod:`.i18n`'s catalogue and looked up the same way (an unknown language reads English).
"""

from __future__ import annotations

from .i18n import FALLBACK, Words

ANSWER_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "prompt": "Will you attend?",
        "ACCEPTED": "Accept",
        "TENTATIVE": "Maybe",
        "DECLINED": "Decline",
        "page.title": "Your answer: {title}",
        "page.confirm": "Choose your answer and press its button to send it.",
        "page.scope": "Answer for",
        "scope.occurrence": "this meeting only ({when})",
        "scope.series": "all meetings of this series",
        "page.current": "Your answer so far: {answer}",
        "page.done": "Thank you: your answer is recorded ({answer}).",
        "page.done_series": "Thank you: your answer is recorded ({answer}) for all meetings of this series.",
        "page.done_occurrence": "Thank you: your answer is recorded ({answer}) for this meeting only ({when}).",
        "page.change": "You can change it at any time from the same link.",
        "NEEDS-ACTION": "no answer yet",
    },
    "ko": {
        "prompt": "참석하시겠습니까?",
        "ACCEPTED": "수락",
        "TENTATIVE": "미정",
        "DECLINED": "거절",
        "page.title": "회신: {title}",
        "page.confirm": "답변을 선택하고 버튼을 눌러 보내 주세요.",
        "page.scope": "회신 범위",
        "scope.occurrence": "이번 회의만 ({when})",
        "scope.series": "이 반복 회의 전체",
        "page.current": "현재 회신: {answer}",
        "page.done": "감사합니다. 회신이 기록되었습니다 ({answer}).",
        "page.done_series": "감사합니다. 회신이 기록되었습니다 ({answer}): 이 반복 회의 전체.",
        "page.done_occurrence": "감사합니다. 회신이 기록되었습니다 ({answer}): 이번 회의만 ({when}).",
        "page.change": "같은 링크에서 언제든지 변경할 수 있습니다.",
        "NEEDS-ACTION": "아직 회신 없음",
    },
    "zh": {
        "prompt": "您会参加吗？",
        "ACCEPTED": "接受",
        "TENTATIVE": "待定",
        "DECLINED": "拒绝",
        "page.title": "您的回复：{title}",
        "page.confirm": "请选择您的回复并按下按钮发送。",
        "page.scope": "回复范围",
        "scope.occurrence": "仅此次会议（{when}）",
        "scope.series": "此系列的所有会议",
        "page.current": "目前的回复：{answer}",
        "page.done": "谢谢，您的回复已记录（{answer}）。",
        "page.done_series": "谢谢，您的回复已记录（{answer}），适用于此系列的所有会议。",
        "page.done_occurrence": "谢谢，您的回复已记录（{answer}），仅适用于此次会议（{when}）。",
        "page.change": "您可以随时通过同一链接更改。",
        "NEEDS-ACTION": "尚未回复",
    },
    "vi": {
        "prompt": "Quý vị có tham dự không?",
        "ACCEPTED": "Chấp nhận",
        "TENTATIVE": "Có thể",
        "DECLINED": "Từ chối",
        "page.title": "Trả lời: {title}",
        "page.confirm": "Xin chọn câu trả lời và bấm nút để gửi.",
        "page.scope": "Trả lời cho",
        "scope.occurrence": "chỉ cuộc họp này ({when})",
        "scope.series": "tất cả các cuộc họp của chuỗi này",
        "page.current": "Câu trả lời hiện tại: {answer}",
        "page.done": "Cảm ơn quý vị: câu trả lời đã được ghi nhận ({answer}).",
        "page.done_series": (
            "Cảm ơn quý vị: câu trả lời đã được ghi nhận ({answer}) cho tất cả các cuộc họp của chuỗi này."
        ),
        "page.done_occurrence": "Cảm ơn quý vị: câu trả lời đã được ghi nhận ({answer}) chỉ cho cuộc họp này ({when}).",
        "page.change": "Quý vị có thể thay đổi bất cứ lúc nào bằng cùng đường liên kết.",
        "NEEDS-ACTION": "chưa trả lời",
    },
}

CHOICES = ("ACCEPTED", "TENTATIVE", "DECLINED")  # the PARTSTATs a link can give, in the order shown


def answer_word(w: Words, key: str, **values: str) -> str:
    """``key`` of :data:`ANSWER_WORDS` in ``w``'s language."""
    template = ANSWER_WORDS.get(w.language, {}).get(key) or ANSWER_WORDS[FALLBACK][key]
    return template.format(**values)
