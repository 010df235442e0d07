"""The model writer's team-written sentences (issue 24): seed sentences with placeholders per kind of reason, an
action per kind of service, a verb per kind of benefit. ``writer_data`` builds the training pairs from them, and
``slot_writer`` takes its vocabulary from them (a word from nowhere is invention). No imports: both read it.
"""

from __future__ import annotations

# What a service of each kind lets the user do, as a verb phrase (team-written; the model learns to say it from
# the gist label it is given, never from the description).
ACTIONS: dict[str, list[str]] = {
    "Ăn uống": ["đặt món và trả tiền bữa ăn", "thanh toán khi đi ăn uống"],
    "Đi chợ": ["mua thực phẩm hằng ngày", "đi chợ và thanh toán gọn hơn"],
    "Tạp hóa": ["mua đồ thiết yếu ở cửa hàng gần nhà", "thanh toán khi mua đồ tạp hóa"],
    "Di chuyển": ["đặt xe cho các chuyến đi", "trả tiền các chuyến xe"],
    "Giao hàng": ["gửi và nhận hàng", "đặt giao hàng nhanh"],
    "Xăng xe": ["đổ xăng và thanh toán không cần tiền mặt", "trả tiền xăng xe"],
    "Gửi xe": ["trả phí gửi xe", "thanh toán phí đỗ xe"],
    "Bảo dưỡng xe": ["đặt lịch bảo dưỡng xe", "trả tiền sửa xe"],
    "Vé máy bay": ["đặt vé máy bay", "săn vé cho chuyến bay tới"],
    "Khách sạn": ["đặt phòng cho chuyến đi", "đặt chỗ ở khi đi xa"],
    "Du lịch": ["lên kế hoạch cho chuyến đi", "đặt dịch vụ cho chuyến du lịch"],
    "Vé xe khách": ["đặt vé xe khách", "mua vé xe đường dài"],
    "Tiền điện": ["trả hóa đơn điện đúng hạn", "thanh toán tiền điện"],
    "Tiền nước": ["trả hóa đơn nước đúng hạn", "thanh toán tiền nước"],
    "Điện nước": ["trả hóa đơn điện nước đúng hạn", "gom các hóa đơn vào một chỗ"],
    "Internet": ["trả cước internet đúng hạn", "thanh toán cước mạng"],
    "Nạp tiền điện thoại": ["nạp tiền điện thoại nhanh", "nạp tiền cho thuê bao"],
    "Gói cước 4G": ["mua gói dữ liệu di động", "đăng ký gói cước phù hợp"],
    "Âm nhạc và phim trực tuyến": ["trả phí gói xem phim và nghe nhạc", "gia hạn gói giải trí trực tuyến"],
    "Nạp game": ["nạp thẻ game", "nạp tiền vào trò chơi"],
    "Xem phim": ["đặt vé xem phim", "chọn suất chiếu và đặt vé"],
    "Giải trí": ["đặt vé cho các buổi giải trí", "thanh toán các khoản giải trí"],
    "Mua sắm trực tuyến": ["mua sắm trên mạng", "thanh toán đơn hàng trực tuyến"],
    "Mua sắm": ["thanh toán khi mua sắm", "mua sắm gọn hơn"],
    "Làm đẹp": ["đặt lịch làm đẹp", "thanh toán ở tiệm làm đẹp"],
    "Điện tử": ["mua đồ điện tử", "thanh toán khi mua thiết bị"],
    "Đồ gia dụng": ["mua đồ dùng trong nhà", "sắm đồ gia dụng"],
    "Tiền thuê nhà": ["trả tiền nhà đúng hạn", "chuyển tiền thuê nhà mỗi tháng"],
    "Phí quản lý chung cư": ["trả phí chung cư đúng hạn", "thanh toán phí quản lý tòa nhà"],
    "Học phí": ["đóng học phí đúng hạn", "thanh toán học phí"],
    "Sức khỏe": ["trả tiền khám chữa bệnh", "thanh toán khi đi khám"],
    "Bảo hiểm": ["mua bảo hiểm", "được bảo vệ trước rủi ro"],
    "Bảo hiểm xe": ["mua bảo hiểm cho xe", "gia hạn bảo hiểm xe"],
    "Bảo hiểm y tế": ["mua bảo hiểm sức khỏe", "được bảo vệ khi đi khám chữa bệnh"],
    "Bảo hiểm nhân thọ": ["mua bảo hiểm cho gia đình", "bảo vệ tài chính cho người thân"],
    "Bảo hiểm du lịch": ["mua bảo hiểm cho chuyến đi", "yên tâm hơn khi đi xa"],
    "Thể thao": ["trả phí tập luyện", "đăng ký gói tập"],
    "Chuyển tiền": ["chuyển tiền nhanh", "chuyển tiền cho người thân"],
    "Quà tặng": ["gửi quà", "tặng quà cho người thân"],
    "Từ thiện": ["quyên góp", "ủng hộ các quỹ thiện nguyện"],
    "Con cái": ["lo các khoản cho con", "mua đồ cho con"],
    "Trả nợ": ["trả nợ đúng hạn", "theo dõi các kỳ trả nợ"],
    "Tiết kiệm": ["gửi tiết kiệm", "để riêng một khoản tiết kiệm"],
    "Thuế": ["nộp thuế đúng hạn", "nộp thuế trực tuyến"],
    "Phí ngân hàng": ["theo dõi phí ngân hàng", "giảm bớt phí giao dịch"],
    "Vàng": ["tích lũy vàng", "mua vàng từng ít một"],
    "Chứng khoán": ["đầu tư chứng khoán", "bắt đầu đầu tư cổ phiếu"],
    "Quỹ đầu tư": ["đầu tư vào chứng chỉ quỹ", "đầu tư đều đặn qua quỹ"],
    "Chi tiêu khác": ["quản lý chi tiêu", "theo dõi các khoản chi"],
    "Thú cưng": ["mua đồ cho thú cưng", "chăm sóc thú cưng"],
    "Sửa chữa nhà": ["đặt thợ sửa chữa", "đặt lịch sửa chữa trong nhà"],
    "": ["quản lý tiền gọn hơn", "thanh toán nhanh trên ví"],
}
# The seeds, by kind of reason: the slots in the order the plan gives them, ``<do>`` an action of the gist, and
# ``<get>`` the benefit's verb (by the benefit's kind).
SEEDS: dict[str, list[str]] = {
    "spend": [
        "Bạn đã chi {amount} cho {category} tháng này, hãy dùng {service} để <do> ngay trên ví.",
        "Với {amount} dành cho {category}, bạn có thể mở {service} để <do> nhanh hơn.",
        "Tháng này bạn chi {amount} cho {category}, thử {service} để <do> và dễ theo dõi hơn.",
        "Khoản {amount} cho {category} sẽ gọn hơn nếu bạn dùng {service} để <do>.",
        "Bạn tiêu {amount} cho {category}, hãy thử {service} để <do> ngay trong ứng dụng.",
    ],
    "spend_top": [
        "Khoản chi lớn nhất của bạn là {amount} cho {category}, hãy dùng {service} để <do> gọn hơn.",
        "Bạn chi nhiều nhất cho {category}, tới {amount}, thử {service} để <do> ngay trên ví.",
    ],
    "spend_frequent": [
        "Bạn trả {amount} cho {category} nhiều lần trong tháng, dùng {service} để <do> cho nhanh.",
    ],
    "spend_benefit_top": [
        "Khoản chi lớn nhất của bạn là {amount} cho {category}, với {service} bạn có thể <get> {benefit}.",
    ],
    "spend_benefit_frequent": [
        "Bạn trả {amount} cho {category} thường xuyên, qua {service} bạn có thể <get> {benefit}.",
    ],
    "spend_benefit": [
        "Bạn chi {amount} cho {category}, nếu dùng {service} để <do> bạn có thể <get> {benefit}.",
        "Với {amount} cho {category} tháng này, {service} có thể giúp bạn <get> {benefit}.",
        "Tháng này bạn chi {amount} cho {category}, hãy chuyển sang {service} để <get> {benefit}.",
        "Khoản {amount} cho {category} qua {service} có thể giúp bạn <get> {benefit}.",
        "Bạn đã chi {amount} cho {category}, thử {service} để <do> và <get> {benefit}.",
    ],
    "again": [
        "Cũng cho khoản {category}, bạn có thể dùng thêm {service} để <do>.",
        "Ngoài ra, với {category} bạn có thể thử {service} để <do>.",
        "Cho khoản {category} nói trên, {service} giúp bạn <do> dễ hơn.",
    ],
    "again_benefit": [
        "Cũng cho khoản {category}, {service} có thể giúp bạn <get> {benefit}.",
        "Với {category} nói trên, thử {service} để <get> {benefit}.",
        "Ngoài ra, khoản {category} qua {service} có thể giúp bạn <get> {benefit}.",
    ],
    "idle": [
        "Bạn còn {surplus} chưa dùng đến, hãy thử {service} để <do> thay vì để tiền nằm yên.",
        "Với {surplus} còn dư tháng này, bạn có thể dùng {service} để <do>.",
        "Khoản {surplus} còn dư sẽ có ích hơn nếu bạn dùng {service} để <do>.",
        "Tháng này bạn dư {surplus}, hãy cân nhắc {service} để <do> từ từ.",
    ],
    "idle_benefit": [
        "Bạn còn {surplus} chưa dùng đến, gửi vào {service} có thể giúp khoản này sinh lời {benefit}.",
        "Với {surplus} còn dư, {service} có thể giúp tiền của bạn sinh lời {benefit}.",
        "Khoản {surplus} còn dư của bạn nếu để ở {service} có thể sinh lời {benefit}.",
        "Thay vì để yên {surplus} trong ví, bạn hãy thử {service} để sinh lời {benefit}.",
    ],
    "debt": [
        "Khoản {category} {amount} tháng này sẽ dễ theo dõi hơn nếu bạn dùng {service} để <do>.",
        "Với khoản {category} {amount}, bạn có thể dùng {service} để <do> và tránh phí trễ hạn.",
        "Bạn có khoản {category} {amount}, hãy thử {service} để <do> đúng hạn.",
    ],
    "other": [
        "Tháng này bạn chi {spent}, hãy thử {service} để <do>.",
        "Với tổng chi {spent} trong tháng, {service} giúp bạn <do> dễ hơn.",
        "Bạn đã chi {spent} tháng này, dùng {service} để <do> ngay trên ví.",
    ],
    "other_bare": [
        "Bạn có thể thử {service} để <do> ngay trên ví.",
        "Hãy khám phá {service} để <do> dễ dàng hơn mỗi ngày.",
    ],
}
GET = {"cashback": ["nhận lại", "được hoàn"], "discount": ["tiết kiệm", "bớt được"], "yield": ["nhận thêm"]}
